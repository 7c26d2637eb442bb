"""ApiFunction: the REST API (API Gateway proxy integration). Powertools' event handler and
nekt_peering.api load here only, never in a stage's function."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths

from nekt_peering.api import app as rest_api


# Never the event: API Gateway's carries the caller's SigV4 headers, X-Amz-Security-Token included.
@rest_api.logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True,
                                       log_event=False)
def api(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Routes are nekt_peering.api.app's."""
    return rest_api.app.resolve(event, context)
