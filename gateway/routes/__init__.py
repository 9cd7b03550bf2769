"""The gateway's routes by area, each a class of methods that ``gateway.service.GatewayService``
assembles. A route declares who may call it (``gateway.http.route``)."""
