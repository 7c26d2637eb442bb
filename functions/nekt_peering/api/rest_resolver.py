"""Powertools' REST API resolver, as the API function imports it: without the rest of Powertools'
event handler and event classes, which their packages' __init__ would load (nekt_peering.deferred_packages
says why and how). The resolver's code is Powertools' own, unchanged."""

from nekt_peering.api.deferred_packages import defer_init

defer_init("aws_lambda_powertools.event_handler")  # every resolver
defer_init("aws_lambda_powertools.event_handler.openapi")  # OpenAPI schema merging
defer_init("aws_lambda_powertools.utilities.data_classes")  # every event class

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types  # noqa: E402

__all__ = ["APIGatewayRestResolver", "Response", "content_types"]
