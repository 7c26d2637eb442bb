"""Connects a customer's private AWS database to the Nekt VPC, by one of three paths.

Layers, each importing only those below it (tests/unit/test_import_structure.py holds the table):
  core                                     model, shapes, errors, AWS sessions, quotas, EC2 facts, compensation
  registry, ingress, databases, probe,     the registry table; the security-group stage; the database per kind;
  installation                             the probe (Nekt account); the stack's announcement to Nekt
  public, peering, resource_endpoint       one package per network path: its plan, its stages, its undo
  connect, disconnect                      the workflows' own stages over every path
  api                                      the REST API
  handlers                                 one thin entry module per Lambda function
"""
