from nekt_peering_cli.app import main

main()
