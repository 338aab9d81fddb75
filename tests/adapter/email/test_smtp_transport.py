"""The SMTP transport against a real SMTP server: headers, connection reuse, failures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.delivery import DeliveryError, Notification, Receipt
from handlers.email.smtp import RenderedEmail, SmtpTransport
from handlers.email.urls import parse_smtp_url
from tests.servers import free_port
from tests.servers.smtp import SmtpRecorder, SmtpServer

MAIL_FROM = "Closeloop <noreply@closeloop.example.org>"


def notification(number: int = 1, address: str = "gatekeeper@agency.example.org") -> Notification:
    return Notification(
        id=number,
        key=f"published:R-2026-{number:06d}:program-17:contact-5:v1",
        channel="email",
        kind="referral_published",
        address=address,
        staff_id=5,
        referral_id=number,
        payload={"number": f"R-2026-{number:06d}", "county": "Lane", "urgency": "urgent"},
    )


def render(note: Notification) -> RenderedEmail:
    number = note.payload["number"]
    return RenderedEmail(
        subject=f"New referral {number} (urgent)",
        text=f"Referral {number} in Lane county needs a response.\n",
        html=f"<p>Referral <b>{number}</b> in Lane county needs a response.</p>\n",
        reply_to="replies+abc234@closeloop.example.org",
        message_id=f"<{number}.{note.id}@closeloop.example.org>",
        in_reply_to="<R-2026-000001.0@closeloop.example.org>",
        references=("<R-2026-000001.0@closeloop.example.org>", "<thread.2@closeloop.example.org>"),
    )


def plain_render(note: Notification) -> RenderedEmail:
    return RenderedEmail(subject="Reminder", text="You have 2 open referrals.\n")


@pytest.fixture
def transport(smtp_server: SmtpServer) -> Iterator[SmtpTransport]:
    with SmtpTransport(
        parse_smtp_url(smtp_server.url()), mail_from=MAIL_FROM, render=render
    ) as transport:
        yield transport


def test_message_headers_and_parts(smtp_server: SmtpServer, transport: SmtpTransport) -> None:
    receipt = transport.deliver(notification(7))

    [received] = smtp_server.recorder.wait_for(1)
    message = received.message
    assert receipt == Receipt(external_ref="<R-2026-000007.7@closeloop.example.org>")
    assert received.mail_from == "noreply@closeloop.example.org"
    assert received.rcpt_tos == ("gatekeeper@agency.example.org",)
    assert message["From"] == MAIL_FROM
    assert message["To"] == "gatekeeper@agency.example.org"
    assert message["Subject"] == "New referral R-2026-000007 (urgent)"
    assert message["Message-ID"] == "<R-2026-000007.7@closeloop.example.org>"
    assert message["In-Reply-To"] == "<R-2026-000001.0@closeloop.example.org>"
    # Folded onto a continuation line by the email package; the ids are what count.
    assert message["References"].split() == [
        "<R-2026-000001.0@closeloop.example.org>",
        "<thread.2@closeloop.example.org>",
    ]
    assert message["Reply-To"] == "replies+abc234@closeloop.example.org"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert message["Date"] is not None
    assert message.get_content_type() == "multipart/alternative"
    parts = [(part.get_content_type(), part.get_content()) for part in message.iter_parts()]
    assert parts == [
        ("text/plain", "Referral R-2026-000007 in Lane county needs a response.\n"),
        ("text/html", "<p>Referral <b>R-2026-000007</b> in Lane county needs a response.</p>\n"),
    ]


def dotted_render(note: Notification) -> RenderedEmail:
    return RenderedEmail(subject="Dots", text=".\n.. two dots\nmiddle . line\n.last\n")


def test_a_batch_written_ahead_arrives_whole_and_in_order_with_leading_dots_kept(
    smtp_server: SmtpServer,
) -> None:
    url = parse_smtp_url(smtp_server.url())
    notes = [notification(n, address=f"person{n}@agency.example.org") for n in range(1, 5)]
    with SmtpTransport(url, mail_from=MAIL_FROM, render=dotted_render) as transport:
        transport.prepare(notes)
        receipts = [transport.deliver(note) for note in notes]

    received = smtp_server.recorder.wait_for(4)
    assert [r.rcpt_tos for r in received] == [(note.address,) for note in notes]
    assert [r.message["Message-ID"] for r in received] == [r.external_ref for r in receipts]
    assert len(set(receipts)) == 4
    assert {r.message.get_content() for r in received} == {".\n.. two dots\nmiddle . line\n.last\n"}


def test_message_id_is_generated_when_the_render_has_none(smtp_server: SmtpServer) -> None:
    url = parse_smtp_url(smtp_server.url())
    with SmtpTransport(url, mail_from=MAIL_FROM, render=plain_render) as transport:
        receipt = transport.deliver(notification())

    [received] = smtp_server.recorder.wait_for(1)
    message_id = received.message["Message-ID"]
    assert receipt.external_ref == message_id
    assert message_id.startswith("<") and message_id.endswith("@closeloop.example.org>")
    assert received.message.get_content_type() == "text/plain"
    assert received.message["Reply-To"] is None
    assert received.message["In-Reply-To"] is None
    assert received.message["References"] is None


def test_one_connection_carries_several_messages(
    smtp_server: SmtpServer, transport: SmtpTransport
) -> None:
    for number in (1, 2, 3):
        transport.deliver(notification(number, address=f"provider{number}@agency.example.org"))

    received = smtp_server.recorder.wait_for(3)
    assert [message.rcpt_tos for message in received] == [
        ("provider1@agency.example.org",),
        ("provider2@agency.example.org",),
        ("provider3@agency.example.org",),
    ]
    assert smtp_server.recorder.connections == 1


def test_reconnects_when_the_server_closed_the_connection(
    smtp_server: SmtpServer, transport: SmtpTransport
) -> None:
    transport.deliver(notification(1))
    smtp_server.recorder.wait_for(1)
    assert smtp_server.drop_connections() == 1

    transport.deliver(notification(2))

    assert len(smtp_server.recorder.wait_for(2)) == 2
    assert smtp_server.recorder.connections == 2


def test_idle_connection_is_checked_with_noop_before_use(smtp_server: SmtpServer) -> None:
    url = parse_smtp_url(smtp_server.url())
    with SmtpTransport(url, mail_from=MAIL_FROM, render=render, idle_check_seconds=0) as transport:
        transport.deliver(notification(1))
        transport.deliver(notification(2))
        assert smtp_server.recorder.connections == 1
        smtp_server.drop_connections()
        transport.deliver(notification(3))

    assert len(smtp_server.recorder.wait_for(3)) == 3
    assert smtp_server.recorder.connections == 2


def test_server_away_is_retryable_and_recovers(
    smtp_server: SmtpServer, transport: SmtpTransport
) -> None:
    transport.deliver(notification(1))
    smtp_server.stop()

    with pytest.raises(DeliveryError) as caught:
        transport.deliver(notification(2))
    assert caught.value.permanent is False

    smtp_server.start()
    transport.deliver(notification(3))
    assert [m.message["Message-ID"] for m in smtp_server.recorder.wait_for(2)] == [
        "<R-2026-000001.1@closeloop.example.org>",
        "<R-2026-000003.3@closeloop.example.org>",
    ]


def test_connection_refused_is_retryable() -> None:
    url = parse_smtp_url(f"smtp://127.0.0.1:{free_port()}")
    transport = SmtpTransport(url, mail_from=MAIL_FROM, render=render, timeout=5)

    with pytest.raises(DeliveryError) as caught:
        transport.deliver(notification())

    assert caught.value.permanent is False
    assert str(caught.value).startswith(
        f"cannot connect to SMTP server smtp://127.0.0.1:{url.port}"
    )


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("550 5.1.1 No such user here", True), ("450 4.2.1 Mailbox busy, try later", False)],
)
def test_refused_recipient(
    smtp_server: SmtpServer, transport: SmtpTransport, reply: str, permanent: bool
) -> None:
    smtp_server.recorder.refuse_recipients["gone@agency.example.org"] = reply

    with pytest.raises(DeliveryError) as caught:
        transport.deliver(notification(1, address="gone@agency.example.org"))
    transport.deliver(notification(2))

    assert caught.value.permanent is permanent
    assert str(caught.value) == f"recipient gone@agency.example.org refused: {reply}"
    # The refusal did not spoil the connection for the next recipient.
    assert len(smtp_server.recorder.wait_for(1)) == 1
    assert smtp_server.recorder.connections == 1


@pytest.mark.parametrize(
    ("reply", "permanent"),
    [("554 5.7.1 Message rejected as spam", True), ("451 4.3.0 Temporary failure", False)],
)
def test_refused_data(
    smtp_server: SmtpServer, transport: SmtpTransport, reply: str, permanent: bool
) -> None:
    smtp_server.recorder.data_replies.append(reply)

    with pytest.raises(DeliveryError) as caught:
        transport.deliver(notification(1))

    assert caught.value.permanent is permanent
    assert str(caught.value) == f"message refused: {reply}"
    assert smtp_server.recorder.messages == []


@pytest.fixture
def auth_server() -> Iterator[SmtpServer]:
    server = SmtpServer(SmtpRecorder(), users={"mailer": "pa:ss@word/1"})
    server.start()
    yield server
    server.stop()


def test_login_with_url_encoded_credentials(auth_server: SmtpServer) -> None:
    url = parse_smtp_url(f"smtp://mailer:pa%3Ass%40word%2F1@127.0.0.1:{auth_server.port}")
    with SmtpTransport(url, mail_from=MAIL_FROM, render=render) as transport:
        transport.deliver(notification())

    assert len(auth_server.recorder.wait_for(1)) == 1
    assert auth_server.recorder.logins == [("mailer", "PLAIN")]


def test_wrong_password_is_retryable_and_not_echoed(auth_server: SmtpServer) -> None:
    url = parse_smtp_url(f"smtp://mailer:hunter2@127.0.0.1:{auth_server.port}")
    transport = SmtpTransport(url, mail_from=MAIL_FROM, render=render)

    with pytest.raises(DeliveryError) as caught:
        transport.deliver(notification())

    assert caught.value.permanent is False
    assert str(caught.value).startswith(
        f"SMTP login to smtp://mailer@127.0.0.1:{auth_server.port} failed: 535"
    )
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_with_a_self_signed_certificate(tls_cert: tuple[Path, Path], mode: str) -> None:
    if mode == "starttls":
        server = SmtpServer(SmtpRecorder(), starttls_cert=tls_cert)
        url = f"smtp://127.0.0.1:{server.port}?starttls=true&verify=false"
    else:
        server = SmtpServer(SmtpRecorder(), implicit_tls_cert=tls_cert)
        url = f"smtps://127.0.0.1:{server.port}?verify=false"
    server.start()
    try:
        with SmtpTransport(parse_smtp_url(url), mail_from=MAIL_FROM, render=render) as transport:
            transport.deliver(notification())
        [received] = server.recorder.wait_for(1)
    finally:
        server.stop()

    assert received.tls is True
    assert received.message["Subject"] == "New referral R-2026-000001 (urgent)"


def test_unverifiable_certificate_is_refused_when_verification_is_on(
    tls_cert: tuple[Path, Path],
) -> None:
    server = SmtpServer(SmtpRecorder(), starttls_cert=tls_cert)
    server.start()
    try:
        url = parse_smtp_url(f"smtp://127.0.0.1:{server.port}?starttls=true")
        transport = SmtpTransport(url, mail_from=MAIL_FROM, render=render)
        with pytest.raises(DeliveryError) as caught:
            transport.deliver(notification())
    finally:
        server.stop()

    assert caught.value.permanent is False
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert server.recorder.messages == []
