"""The `opencoo` command: set-up, running the platform, and operator tasks."""

import json
import os
import sys
from pathlib import Path

import click

from services.chassis import config

ROOT = Path(__file__).resolve().parent.parent


@click.group()
def main():
    """OpenCoO: Certificates of Origin platform."""


def _echo_json(value):
    click.echo(json.dumps(value, indent=2, default=str))


# --- set-up ----------------------------------------------------------------------------------


@main.command()
@click.argument("services", nargs=-1)
def migrate(services):
    """Run database migrations and seed data for SERVICES (default: all that have a database)."""
    from services.chassis import migrations, seeding

    for service in services or config.DATABASE_SERVICES:
        if service not in config.DATABASE_SERVICES:
            raise click.BadParameter(f"unknown service {service!r}; one of {config.DATABASE_SERVICES}")
        migrations.upgrade(service)
        summary = seeding.seed(service)
        password = summary.pop("admin_password", None)
        click.echo(f"{service}: database at head" + (f" {summary}" if summary else ""))
        if password:
            click.secho(f"admin password (printed once): {password}", fg="yellow", bold=True)


def _init():
    """The data folder's development PKI, the signing token and JWT keys, then every database."""
    from cli import devpki
    from services.registration.organisation import SEED_AGENCIES

    var = config.var_dir()
    devpki.ensure_all(var, [(a.code, a.name) for a in SEED_AGENCIES])
    click.get_current_context().invoke(migrate)


@main.command()
def init():
    """Prepare OPENCOO_VAR: dev CA, SoftHSM2 token and agency keys, JWT keys, databases."""
    _init()


@main.group()
def broker():
    """The message broker."""


@broker.command("ensure")
@click.option("--management", is_flag=True, help="Also make sure the management API answers.")
def broker_ensure(management):
    """Start a local RabbitMQ unless one answers at OPENCOO_AMQP_URI."""
    from cli import broker as brokers

    try:
        brokers.ensure(config.amqp_uri(), echo=click.echo)
        if management:
            brokers.ensure_management(config.amqp_uri())
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None


def _procfile_names() -> list[str]:
    names = []
    for line in (ROOT / "Procfile").read_text().splitlines():
        name, colon, _ = line.partition(":")
        if colon and name.strip() and not name.lstrip().startswith("#"):
            names.append(name.strip())
    return names


def _scale_option(ctx, param, values) -> dict[str, int]:
    """``--scale certificate=2`` (repeatable) -> {"certificate": 2}, names checked against the
    Procfile."""
    known = _procfile_names()
    scale = {}
    for value in values:
        name, eq, count = value.partition("=")
        name = name.strip()
        if not eq or name not in known or not count.strip().isdigit() or int(count) < 1:
            raise click.BadParameter(
                f"{value!r}: give NAME=N with N >= 1 and NAME one of {', '.join(known)}", ctx=ctx, param=param
            )
        scale[name] = int(count)
    return scale


@main.command()
@click.option("--skip-init", is_flag=True, help="Do not run `opencoo init` first.")
@click.option(
    "--scale",
    multiple=True,
    callback=_scale_option,
    metavar="NAME=N",
    help="Run N processes of the Procfile entry NAME (repeatable), e.g. --scale certificate=2.",
)
def up(skip_init, scale):
    """Run the whole platform: every service as its own process, the gateway and the portal."""
    click.get_current_context().invoke(broker_ensure)
    if not skip_init:
        _init()
    env = {
        **os.environ,
        "OPENCOO_VAR": str(config.var_dir()),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        # nameko's CLI warns of pkg_resources' deprecation at every start, eventlet of its own
        # (EVENTLET_TESTS is eventlet's one switch for that banner, and changes nothing else).
        "PYTHONWARNINGS": "ignore::UserWarning:nameko.cli.main",
        "EVENTLET_TESTS": "1",
    }
    click.secho(
        f"\nOpenCoO is starting at {config.public_url()}  (the portal; API docs: "
        f"{config.public_url()}/api/docs, health: {config.public_url()}/health)",
        fg="green",
        bold=True,
    )
    if not os.environ.get("OPENCOO_ADMIN_PASSWORD"):
        click.echo(
            "admin: the password printed above on first start (reset with `opencoo admin reset-password`)"
        )
    click.echo("Ctrl-C stops everything.\n")
    # the supervisor takes this process's place, in a fresh interpreter: the set-up's imports do
    # not stay resident, and Ctrl-C reaches it, which stops every process and waits for them
    scaled = [f"{name}={n}" for name, n in scale.items()]
    os.execve(sys.executable, [sys.executable, "-m", "cli.supervisor", str(ROOT / "Procfile"), *scaled], env)


# --- operator tasks --------------------------------------------------------------------------


def _rpc():
    from nameko.standalone.rpc import ClusterRpcProxy

    return ClusterRpcProxy(config.nameko_config(), timeout=config.rpc_timeout() * 6)


@main.group()
def payments():
    """Payments."""


@payments.command("reconcile")
@click.option(
    "--older-than",
    default=0.0,
    show_default=True,
    help="Only payments opened at least this many seconds ago.",
)
def reconcile_payments(older_than):
    """Ask the payment provider about payments still in progress (their callback never came) and
    complete or fail them; each payment is counted once however often this runs."""
    with _rpc() as rpc:
        outcomes = rpc.payment.reconcile(older_than)
    click.echo(", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())) or "nothing open")


@main.group()
def reference():
    """Reference data."""


@reference.command("import-hs")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--batch", default=500, show_default=True, help="Rows per request.")
def import_hs(csv_file, batch):
    """Load an HS nomenclature CSV (section,hscode,description,parent,level) into the running
    application service. The new nomenclature replaces the old one only once it is complete."""
    from services.application import hs
    from services.application.reference import entry_rows

    try:
        entries = hs.parse_nomenclature(csv_file.read_text(encoding="utf-8-sig"))
    except hs.NomenclatureError as exc:
        for error in exc.errors:
            click.echo(f"{csv_file}: {error}", err=True)
        raise click.ClickException("nothing was imported") from None
    rows = entry_rows(entries)
    with _rpc() as rpc:
        import_id = rpc.application.hs_import_start(csv_file.name)
        with click.progressbar(length=len(rows), label=f"importing {csv_file.name}") as bar:
            for start in range(0, len(rows), batch):
                chunk = rows[start : start + batch]
                rpc.application.hs_import_rows(import_id, chunk)
                bar.update(len(chunk))
        status = rpc.application.hs_import_activate(import_id)
    click.echo(f"{status['codes']} HS codes loaded from {csv_file.name}")


@main.group()
def dlq():
    """The dead-letter queue of events that handlers gave up on."""


@dlq.command("list")
@click.option("--json", "as_json", is_flag=True)
def dlq_list(as_json):
    """Show dead letters: handler queue, event, attempts, error."""
    from services.chassis import dlq as dead_letters

    items = dead_letters.list_dead_letters(config.amqp_uri())
    if as_json:
        _echo_json(items)
        return
    if not items:
        click.echo("no dead letters")
    for item in items:
        click.echo(
            f"{item['id']}  {item['dead_at']}  {item['event_type']} {item['event_id']}\n"
            f"    queue: {item['queue']}  attempts: {item['attempts']}\n"
            f"    error: {item['error']}"
        )


@dlq.command("replay")
@click.argument("ids", nargs=-1)
@click.option("--all", "replay_all", is_flag=True, help="Replay every dead letter.")
def dlq_replay(ids, replay_all):
    """Send dead letters (by id, or --all) back to their handler with a fresh retry budget."""
    from services.chassis import dlq as dead_letters

    if not ids and not replay_all:
        raise click.UsageError("name dead-letter ids, or --all")
    done = dead_letters.replay(config.amqp_uri(), None if replay_all else set(ids))
    click.echo(f"replayed {len(done)} dead letter(s)")
    missing = set(ids) - {d["id"] for d in done}
    if missing:
        raise click.ClickException(f"not found: {', '.join(sorted(missing))}")


@main.group()
def admin():
    """Administrator account."""


@admin.command("reset-password")
@click.option("--password", help="The new password (default: a random one, printed).")
def reset_password(password):
    """Set the password of `admin` directly in registration's database (its tokens stop working
    once the running registration service relays the change)."""
    from sqlalchemy.orm import sessionmaker

    from services.chassis.database import UnitOfWork, make_engine
    from services.registration.accounts import new_password, set_password

    chosen = password or new_password()
    engine = make_engine(config.database_url("registration"))
    uow = UnitOfWork("registration", sessionmaker(engine), lambda: None)  # the relay polls
    try:
        set_password(uow, "admin", chosen)
        uow.commit()
    finally:
        uow.close()
    click.echo("admin password set" + ("" if password else f": {chosen}"))


@main.group()
def db():
    """For developers: database revisions."""


@db.command("revision")
@click.argument("service")
@click.option("-m", "--message", required=True)
def db_revision(service, message):
    """Autogenerate a migration of SERVICE from its models."""
    from services.chassis import migrations

    migrations.revision(service, message)


# --- exporter side: development DSCs and detached signatures (architecture §4 "DSC") -----------


def _iec_option(ctx, param, value):
    from cli import dsc

    try:
        return dsc.normalise_iec(value)
    except dsc.DscError as exc:
        raise click.BadParameter(str(exc)) from None


@main.group()
def dev():
    """For developers: test DSCs for exporters."""


@dev.command("make-dsc")
@click.option("--iec", required=True, callback=_iec_option, help="The firm's IEC (10 letters/digits).")
@click.option("--name", required=True, help="The director, as listed in the IEC record (the CN).")
@click.option("--organisation", help="The firm's name (the certificate's O).")
@click.option("--token", "token_label", help="SoftHSM2 token label (default: dsc-<IEC>).")
@click.option("--pin", help="User PIN of a new token (default: random), or of an existing one.")
@click.option(
    "--p12",
    "p12_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="No token: write a PKCS#12 file (and PEM cert and key beside it).",
)
@click.option("--p12-password", help="Password of the PKCS#12 file (default: none).")
@click.option("--days", default=730, show_default=True, type=click.IntRange(1, 3650))
def make_dsc(iec, name, organisation, token_label, pin, p12_path, p12_password, days):
    """Make a development DSC for director NAME of the firm IEC, issued by the dev CA.

    The key is generated on a SoftHSM2 token (never leaves it); run again for the same token it
    re-uses that key. With --p12 the key is made in software instead."""
    import shlex

    from cli import dsc

    if p12_password is not None and p12_path is None:
        raise click.UsageError("--p12-password needs --p12")
    if p12_path is not None and (token_label or pin):
        raise click.UsageError("--p12 makes no token: drop --token/--pin")
    var = config.var_dir()
    try:
        made = dsc.make_dsc(
            var,
            iec,
            name,
            token_label=token_label,
            pin=pin,
            p12_path=p12_path,
            p12_password=p12_password,
            organisation=organisation,
            days=days,
        )
    except dsc.DscError as exc:
        raise click.ClickException(str(exc)) from None
    q = shlex.quote
    ca_cert = var / "pki" / "dev-ca.pem"
    click.echo(f"DSC of {made['subject']}")
    click.echo(f"certificate: {made['certificate']}")
    click.echo(f"issued by:   {ca_cert}")
    if made["p12"]:
        click.echo(
            f"PKCS#12:     {made['p12']}" + (" (password protected)" if p12_password else " (no password)")
        )
        click.echo(f"private key: {made['key']}")
        click.echo(
            "\nSign a file FILE (detached CMS, DER) with it:\n"
            f"  openssl cms -sign -binary -outform DER -md sha256 -in FILE -out FILE.p7s "
            f"-signer {q(made['certificate'])} -inkey {q(made['key'])}"
        )
        return
    click.echo(f"module:      {made['module']}")
    click.echo(f"token:       {made['token']}")
    click.echo(f"PIN:         {made['pin']}")
    click.echo(f"SOFTHSM2_CONF={made['softhsm2_conf']}")
    click.echo(
        "\nSign a file FILE with it:\n"
        f"  export SOFTHSM2_CONF={q(made['softhsm2_conf'])}\n"
        f"  opencoo sign --module {q(made['module'])} --token {q(made['token'])} "
        f"--pin {q(made['pin'])} FILE"
    )


@main.command("sign")
@click.option(
    "--module",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The token's PKCS#11 library (.so).",
)
@click.option("--token", "token_label", required=True, help="Token label.")
@click.option("--pin", prompt="Token PIN", hide_input=True, help="User PIN (asked when left out).")
@click.option("--key-label", help="Private key to use (default: the only one on the token).")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the signature (default: FILE.p7s).",
)
@click.option(
    "--base64",
    "as_base64",
    is_flag=True,
    help="Print the signature base64-encoded (as the API takes it) instead of writing "
    "DER; with --out, write that text to OUT.",
)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def sign(module, token_label, pin, key_label, out, as_base64, file):
    """Make a detached CMS signature (DER, SHA-256) of FILE with the key on a PKCS#11 token."""
    import base64

    from cli import dsc

    # a SoftHSM token made by `opencoo dev make-dsc`: its configuration, unless one is exported
    # (read, not config.var_dir(): signing must not create a data folder)
    dsc.use_var_softhsm_conf(module, Path(config.env("OPENCOO_VAR", "./var")))
    try:
        signature = dsc.sign_detached(
            file.read_bytes(), module=module, token_label=token_label, pin=pin, key_label=key_label
        )
    except dsc.DscError as exc:
        raise click.ClickException(str(exc)) from None
    if as_base64:
        text = base64.b64encode(signature).decode("ascii")
        if out:
            out.write_text(text + "\n")
            click.echo(f"signature (base64) written to {out}", err=True)
        else:
            click.echo(text)
        return
    target = out or file.with_name(file.name + ".p7s")
    target.write_bytes(signature)
    click.echo(f"detached signature written to {target}")


@main.command("bridge")
@click.option(
    "--module",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The token's PKCS#11 library (.so).",
)
@click.option("--token", "token_label", required=True, help="Token label.")
@click.option(
    "--pin-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the PIN from this file (else asked here).",
)
@click.option("--key-label", help="Private key to use (default: the only one on the token).")
@click.option("--port", default=8765, show_default=True, help="Port on 127.0.0.1.")
@click.option(
    "--portal-origin", help="The portal's origin, the only one served (default: OPENCOO_PUBLIC_URL's)."
)
def bridge(module, token_label, pin_file, key_label, port, portal_origin):
    """Sign for the portal with the DSC on your token, from 127.0.0.1 (Ctrl-C stops it)."""
    from urllib.parse import urlsplit

    from cli import bridge as signer_bridge
    from cli import dsc

    pin = pin_file.read_text().strip() if pin_file else click.prompt("Token PIN", hide_input=True)
    parts = urlsplit(portal_origin or config.public_url())
    origin = f"{parts.scheme}://{parts.netloc}"
    dsc.use_var_softhsm_conf(module, Path(config.env("OPENCOO_VAR", "./var")))
    signer = signer_bridge.Signer(
        module, token_label, pin, key_label, say=lambda text: click.echo(text, err=True)
    )
    try:
        held = signer.certificates()
    except signer_bridge.BridgeError as exc:
        raise click.ClickException(exc.message) from None
    server = signer_bridge.serve(signer, origin, port)
    for cert in held:
        click.echo(
            f"certificate: {cert['subject']} (IEC {cert['iec']}, valid until {cert['not_after']})", err=True
        )
    click.echo(f"bridge on http://127.0.0.1:{server.server_port} for {origin}; Ctrl-C stops it", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
