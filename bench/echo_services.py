"""Bare nameko HTTP -> RPC echo: the baseline of bench/rpc_roundtrip.py.

Two services, meant to be run as two separate processes, like the platform's gateway and services:

    nameko run --config bench/echo.yaml bench.echo_services:EchoService
    nameko run --config bench/echo.yaml bench.echo_services:EchoGateway

(rpc_roundtrip.py writes the config itself.) ``GET /echo`` asks the ``echo`` service over RPC for a
list of 18 dicts shaped and sized like the agreements list (about 11.5 KB of JSON) and returns it as
JSON. Nothing else: no database, no authentication, no validation, no logging of its own, so the
figure is what nameko + RabbitMQ + eventlet alone cost per HTTP->RPC round trip on this machine.
"""

import json

from nameko.rpc import RpcProxy, rpc
from nameko.web.handlers import http


def _item(i):
    return {
        "code": f"{i:03d}",
        "short_name": f"AGR{i:02d}",
        "name": f"Echo Comprehensive Economic Partnership Agreement number {i}",
        "partner_countries": ["KR", "JP", "SG", "TH", "VN", "MY", "ID", "PH"][: 1 + i % 8],
        "certificate_form": f"Echo Certificate of Origin form {i}",
        "preference_criteria": ["WO", "PE", "RVC", "CTH", "CTSH", "CC"],
        "value_content_threshold": 35 + i,
        "value_content_criteria": ["RVC"],
        "value_content_tariff_shift": "CTSH" if i % 2 else None,
        "allows_self_certification": bool(i % 3 == 0),
        "notes": (
            "In force 1 January 2010. General rule: RVC of at least 35% of FOB together "
            "with a change of tariff subheading (CTSH). Product-specific rules use CTH, "
            "CTSH or CC alone or with RVC for the listed lines. "
        )
        + "x" * (i * 4),
    }


ITEMS = [_item(i) for i in range(18)]


class EchoService:
    name = "echo"

    @rpc
    def items(self):
        return ITEMS


class EchoGateway:
    name = "echo_gateway"

    echo = RpcProxy("echo")

    @http("GET", "/echo")
    def get_echo(self, request):
        return 200, {"Content-Type": "application/json"}, json.dumps(self.echo.items())
