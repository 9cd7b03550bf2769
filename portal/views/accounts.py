"""Logging in (with the API's arithmetic captcha) and out."""

from werkzeug.utils import redirect

from portal.api import ApiError
from portal.app import LoginRequired, Page, safe_next, screen
from services.contracts.actors import PEOPLE


def _login_page(page: Page, status: int = 200, problem: ApiError | None = None, username: str = ""):
    captcha = page.api("GET", "/api/v1/auth/captcha")
    page.ensure_session()
    return page.render(
        "login.html",
        status,
        captcha=captcha,
        problem=problem,
        username=username,
        next=safe_next(page.request.values.get("next")),
    )


@screen("/login", public=True)
def login_form(page: Page):
    if page.session and page.session.logged_in:
        return redirect(safe_next(page.request.args.get("next")))
    return _login_page(page)


@screen("/login", methods=("POST",), public=True)
def login(page: Page):
    username = page.form_value("username", 64).strip()
    try:
        token = page.api(
            "POST",
            "/api/v1/auth/login",
            json_body={
                "username": username,
                "password": page.form_value("password", 256),
                "captcha_id": page.form_value("captcha_id", 64),
                "captcha_answer": page.form_value("captcha_answer", 16).strip(),
            },
        )
    except ApiError as exc:
        if exc.status >= 500:
            raise
        return _login_page(page, exc.status, exc, username)
    page.log_in(token["access_token"], token["role"], username, token["expires_in"])
    return redirect(safe_next(page.request.form.get("next")), code=303)


@screen("/logout", methods=("POST",), roles=PEOPLE)
def logout(page: Page):
    """The API token ends with the session: a copy of it (a stolen cookie's session, a saved
    page) opens nothing afterwards."""
    try:
        page.api("POST", "/api/v1/auth/logout")
    except (ApiError, LoginRequired):
        pass  # already refused or expired: nothing left to end
    page.log_out()
    return redirect("/", code=303)


def _forgot_page(
    page: Page,
    status: int = 200,
    problem: ApiError | None = None,
    sent: bool = False,
    typed: dict | None = None,
):
    captcha = page.api("GET", "/api/v1/auth/captcha")
    page.ensure_session()
    return page.render(
        "forgot_password.html",
        status,
        captcha=captcha,
        problem=problem,
        sent=sent,
        username=(typed or {}).get("username", ""),
        email=(typed or {}).get("email", ""),
    )


@screen("/forgot-password", public=True)
def forgot_password_form(page: Page):
    return _forgot_page(page)


@screen("/forgot-password", methods=("POST",), public=True)
def forgot_password(page: Page):
    typed = {
        "username": page.form_value("username", 64).strip(),
        "email": page.form_value("email", 254).strip(),
    }
    try:
        page.api(
            "POST",
            "/api/v1/auth/forgot-password",
            json_body={
                **typed,
                "captcha_id": page.form_value("captcha_id", 64),
                "captcha_answer": page.form_value("captcha_answer", 8).strip(),
            },
        )
    except ApiError as exc:
        if exc.status >= 500:
            raise
        return _forgot_page(page, exc.status, exc, typed=typed)
    # the same answer whether or not the account exists: the API says nothing either
    return _forgot_page(page, sent=True)


@screen("/change-password", roles=PEOPLE)
def change_password_form(page: Page):
    return page.render("change_password.html", problem=None, done=False)


@screen("/change-password", methods=("POST",), roles=PEOPLE)
def change_password(page: Page):
    try:
        token = page.api(
            "POST",
            "/api/v1/auth/change-password",
            json_body={
                "current_password": page.form_value("current_password", 256),
                "new_password": page.form_value("new_password", 256),
            },
        )
    except ApiError as exc:
        if exc.status >= 500:
            raise
        return page.render("change_password.html", exc.status, problem=exc, done=False)
    # every earlier token is revoked: this session goes on with the fresh one
    page.portal.store.replace_token(page.user, token["access_token"], token["expires_in"])
    return page.render("change_password.html", problem=None, done=True)
