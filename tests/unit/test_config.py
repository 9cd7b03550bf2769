"""Configuration of docs/architecture.md §3 read from the environment."""

from services.chassis import config


def test_database_url_defaults_to_a_sqlite_file_per_service(tmp_path, monkeypatch):
    monkeypatch.setenv("OPENCOO_VAR", str(tmp_path))
    monkeypatch.delenv("OPENCOO_DB_URL", raising=False)
    monkeypatch.delenv("OPENCOO_DB_URL_PAYMENT", raising=False)
    assert config.database_url("payment") == f"sqlite:///{tmp_path}/db/payment.sqlite3"


def test_database_url_template_and_per_service_override(monkeypatch):
    monkeypatch.setenv("OPENCOO_DB_URL", "postgresql://u:p@db/opencoo_{service}")
    monkeypatch.setenv("OPENCOO_DB_URL_SIGNING", "postgresql://u:p@other/signing")
    assert config.database_url("payment") == "postgresql://u:p@db/opencoo_payment"
    assert config.database_url("signing") == "postgresql://u:p@other/signing"


def test_defaults_and_overrides(monkeypatch):
    for name in (
        "OPENCOO_AMQP_URI",
        "OPENCOO_HTTP",
        "OPENCOO_PUBLIC_URL",
        "OPENCOO_EVENT_RETRY_DELAYS",
        "OPENCOO_RPC_TIMEOUT",
    ):
        monkeypatch.delenv(name, raising=False)
    assert config.amqp_uri() == "amqp://guest:guest@127.0.0.1:5672/"
    assert config.http_address() == "127.0.0.1:8000"
    assert config.public_url() == "http://127.0.0.1:8000"
    assert config.event_retry_delays() == [1, 5, 30, 120, 600]
    assert config.rpc_timeout() == 10
    monkeypatch.setenv("OPENCOO_PUBLIC_URL", "https://coo.example.in/")
    monkeypatch.setenv("OPENCOO_EVENT_RETRY_DELAYS", "0.5,2")
    assert config.public_url() == "https://coo.example.in"
    assert config.event_retry_delays() == [0.5, 2]


def test_nameko_yaml_reads_the_same_variables(monkeypatch):
    """`nameko run --config deploy/nameko.yaml` must see OPENCOO_AMQP_URI and OPENCOO_HTTP."""
    import io
    from pathlib import Path

    import yaml
    from nameko.cli.main import IMPLICIT_ENV_VAR_MATCHER, env_var_constructor

    class Loader(yaml.SafeLoader):
        """nameko's own parser setup, on a subclass: nameko's registers on SafeLoader globally."""

    Loader.add_constructor("!env_var", env_var_constructor)
    Loader.add_implicit_resolver("!env_var", IMPLICIT_ENV_VAR_MATCHER, None)
    monkeypatch.setenv("OPENCOO_AMQP_URI", "amqp://u:p@broker:5672/prod")
    monkeypatch.setenv("OPENCOO_HTTP", "0.0.0.0:9000")
    text = (Path(__file__).parents[2] / "deploy" / "nameko.yaml").read_text()
    loaded = yaml.load(io.StringIO(text), Loader=Loader)
    assert loaded["AMQP_URI"] == "amqp://u:p@broker:5672/prod"
    assert loaded["WEB_SERVER_ADDRESS"] == "0.0.0.0:9000"
    monkeypatch.delenv("OPENCOO_HTTP")
    assert yaml.load(io.StringIO(text), Loader=Loader)["WEB_SERVER_ADDRESS"] == "127.0.0.1:8000"
