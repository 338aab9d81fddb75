"""Delivery notices read as text: the server's words stay, the returned copy under its marker
goes, and a transcript, a recipient line or the fields a notice names are not quoted history."""

from __future__ import annotations

import pytest

from handlers.email.quotes import extract_reply

COPY = "Return-Path: <dana@x.org>\nFrom: Dana <dana@x.org>\nTo: jo@y.org\nSubject: Hi\n\nHi Jo\n"

QMAIL = (
    "Hi. This is the qmail-send program at mx.y.org.\n"
    "I'm afraid I wasn't able to deliver your message to the following addresses.\n\n"
    "<jo@y.org>:\n"
    "Sorry, no mailbox here by that name. (#5.1.1)\n"
)
EXIM = (
    "This message was created automatically by mail delivery software.\n\n"
    "A message that you sent could not be delivered to one or more of its\n"
    "recipients. This is a permanent error. The following address(es) failed:\n\n"
    "  jo@y.org\n"
    "    SMTP error from remote mail server after RCPT TO:<jo@y.org>:\n"
    "    host mx.y.org [192.0.2.1]: 550 5.1.1 <jo@y.org>... User Unknown\n"
)
SENDMAIL = (
    "   ----- The following addresses had permanent fatal errors -----\n"
    "<jo@y.org>\n"
    "    (reason: 550 5.1.1 User unknown)\n\n"
    "   ----- Transcript of session follows -----\n"
    "... while talking to mx.y.org.:\n"
    ">>> RCPT To:<jo@y.org>\n"
    "<<< 550 5.1.1 User unknown\n"
    ">>> DATA\n"
    "<<< 503 5.5.1 RCPT first\n"
)


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        # qmail and Yahoo: a recipient line "<a@b>:" is not an attribution
        (f"{QMAIL}\n--- Below this line is a copy of the message.\n\n{COPY}", QMAIL.strip()),
        (f"{QMAIL}\n--- Enclosed is a copy of the message.\n\n{COPY}", QMAIL.strip()),
        # exim: "… after RCPT TO:<a@b>:" is the server's words, the framed line is the marker
        (
            f"{EXIM}\n------ This is a copy of the message, including all the headers. ------"
            f"\n\n{COPY}",
            EXIM.strip(),
        ),
        (f"{EXIM}\n------ This is a copy of the message's headers. ------\n\n{COPY}", EXIM.strip()),
        # exim 3 frames its marker in bars; 1&1 and GMX say it in words
        (
            "|------------ Failed addresses follow: ------------|\n jo@y.org ... unknown host\n"
            f"|------------ Message text follows: ------------|\n{COPY}",
            "|------------ Failed addresses follow: ------------|\n jo@y.org ... unknown host",
        ),
        (
            "The following address failed:\n\njo@y.org:\nSMTP error from remote server\n\n"
            f"--- The header of the original message is following. ---\n\n{COPY}",
            "The following address failed:\n\njo@y.org:\nSMTP error from remote server",
        ),
        # DragonFly, OpenSMTPD (indented text), Office 365: a sentence before the copy
        (
            "There was an error delivering your mail to <jo@y.org>.\n\n"
            f"mx.y.org did not like our RCPT TO:\n550 5.1.1 User unknown\n\n"
            f"Message headers follow.\n\n{COPY}",
            "There was an error delivering your mail to <jo@y.org>.\n\n"
            "mx.y.org did not like our RCPT TO:\n550 5.1.1 User unknown",
        ),
        (
            "    Hi!\n\n    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n"
            "jo@y.org: 550 5.1.1 User unknown\n\n"
            f"    Below is a copy of the original message:\n\n{COPY}",
            "Hi!\n\n    This is the MAILER-DAEMON, please DO NOT REPLY to this e-mail.\n\n"
            "jo@y.org: 550 5.1.1 User unknown",
        ),
        (
            "Delivery has failed to these recipients or groups:\n\njo@y.org\n\n"
            f"Original message headers:\n\n{COPY}",
            "Delivery has failed to these recipients or groups:\n\njo@y.org",
        ),
        # sendmail: the transcript is the notice's, and so is all above the returned copy
        (f"{SENDMAIL}\n   ----- Original message follows -----\n{COPY}", SENDMAIL.strip()),
        (f"{SENDMAIL}\n   ----- Message header follows -----\n{COPY}", SENDMAIL.strip()),
        # Sun/Oracle Messaging Server names the message in indented fields, From: among them
        (
            "This report relates to a message you sent with the following header fields:\n\n"
            "  Message-id: <1@x.org>\n  Date: Thu, 29 Apr 2014 23:34:45 +0900\n"
            "  From: Dana <dana@x.org>\n  To: jo@y.org\n  Subject: Hi\n\n"
            "Your message cannot be delivered to the following recipients:\n\n"
            "  Recipient address: jo@y.org\n  Reason: Remote SMTP server has rejected address\n",
            "This report relates to a message you sent with the following header fields:\n\n"
            "  Message-id: <1@x.org>\n  Date: Thu, 29 Apr 2014 23:34:45 +0900\n"
            "  From: Dana <dana@x.org>\n  To: jo@y.org\n  Subject: Hi\n\n"
            "Your message cannot be delivered to the following recipients:\n\n"
            "  Recipient address: jo@y.org\n  Reason: Remote SMTP server has rejected address",
        ),
        # a notice opening with a row of hyphens is not all signature
        (
            "--------------------------------\nYour Message\n\nTo:      <jo@y.org>\n\n"
            "Did not reach the following recipient: jo@y.org\n",
            "--------------------------------\nYour Message\n\nTo:      <jo@y.org>\n\n"
            "Did not reach the following recipient: jo@y.org",
        ),
    ],
)
def test_a_notice_keeps_its_own_text_and_loses_the_returned_copy(body: str, reply: str) -> None:
    assert extract_reply(body) == reply


@pytest.mark.parametrize(
    ("body", "reply"),
    [
        # a third-level quote of prose is still a quote; only an SMTP command is a transcript
        ("yes\n\n>>> data for March is attached\n>> ok\n", "yes"),
        # Gmail's dated attribution without a verb, date first or weekday first
        ("ja\n\n2026-03-03 10:12 GMT-05:00 Dana <dana@x.org>:\n> New referral\n", "ja"),
        ("да\n\nср, 30 апр. 2025 г. в 15:19, John Doe <doe@example.com>:\n> New referral\n", "да"),
        # an indented header block under a line of text is still quoted history (webmail)
        (
            "merci\n\n      De : S <s@y.fr>\n À : m <q@m.com>\n Envoyé le : Mercredi 30 novembre"
            " 2016 10h30\n Objet : Re: x\n\nbody",
            "merci",
        ),
    ],
)
def test_replies_keep_their_history_rules(body: str, reply: str) -> None:
    assert extract_reply(body) == reply
