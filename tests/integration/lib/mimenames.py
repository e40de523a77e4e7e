#!/usr/bin/python3
"""Reads one message on standard input with Python's email package and
prints, as JSON, what it takes for the file name of every leaf part:
{"python-default": [...], "python-compat32": [...]}, one entry per leaf
in the order of the message, each {"type", "filename", "name"}.

"filename" is get_filename(). "name" is the name parameter of
Content-Type: with policy.default the header object's params, which
decode RFC 2231 and encoded-words; with compat32 get_param(), collapsed
from RFC 2231 and then, as compat32 leaves encoded-words undecoded,
decoded with email.header the way a compat32 program does.
"""
import email
import email.header
import email.policy
import email.utils
import json
import sys


def leaves(part):
    # A message/rfc822 attachment is a leaf here: its own parts belong to
    # the attached message.
    if part.get_content_maintype() == "multipart":
        for sub in part.get_payload():
            yield from leaves(sub)
    else:
        yield part


def name_default(part):
    ct = part["content-type"]
    return ct.params.get("name") if ct is not None else None


def name_compat32(part):
    v = part.get_param("name")
    if v is None:
        return None
    v = email.utils.collapse_rfc2231_value(v)
    return str(email.header.make_header(email.header.decode_header(v)))


def read(raw, policy, name_of):
    msg = email.message_from_bytes(raw, policy=policy)
    return [
        {
            "type": p.get_content_type(),
            "filename": p.get_filename(),
            "name": name_of(p),
        }
        for p in leaves(msg)
    ]


def main():
    raw = sys.stdin.buffer.read()
    out = {
        "python-default": read(raw, email.policy.default, name_default),
        "python-compat32": read(raw, email.policy.compat32, name_compat32),
    }
    json.dump(out, sys.stdout, ensure_ascii=False)


main()
