#!/usr/bin/env python3
"""Write the initial dynamic-security.json for a FleetBootstrap staging site.

Reads every account password from SECRETS/<account>.password (never from argv), hashes it the way
mosquitto's dynamic security plugin does (PBKDF2-HMAC-SHA512, 12-byte random salt, 64-byte hash,
both base64), and writes the accounts, the roles with their ACLs and the default ACL access.

Per-device accounts are not here: provisiond creates them at run time (Sources/Provisioning/DynSec.swift).
Usage: dynsec-json.py --prefix P --operator NAME [--operator NAME...] --monitor NAME --secrets DIR --out FILE
"""

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import sys

ITERATIONS = 1000  # passwords are 256-bit random strings, so this only has to be >= the plugin's 101
NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
PREFIX = re.compile(r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$")


def acl(acltype, topic, allow=True):
    return {"acltype": acltype, "topic": topic, "allow": allow}


def read_write(topic):
    """Publish, receive, subscribe to topic (a filter) and below."""
    return [
        acl("publishClientSend", topic),
        acl("publishClientReceive", topic),
        acl("subscribePattern", topic),
        acl("unsubscribePattern", topic),
    ]


def read_only(topic):
    return [acl("subscribePattern", topic), acl("publishClientReceive", topic)]


def roles(prefix, operators):
    p = prefix + "/v1"
    watch = read_only(p + "/devices/+/status") + read_only(p + "/service/status") \
        + read_only(p + "/service/pubkey") + read_only(p + "/events")
    return [
        {"rolename": "admin", "textname": "broker administrator: accounts, $SYS, read-only view of the tree",
         "acls": read_write("$CONTROL/dynamic-security/#") + read_only("$SYS/#") + read_only(prefix + "/#")},
        {"rolename": "provisiond", "textname": "provisioning service: the whole prefix and account management",
         # mosquitto 2.0 checks a shared subscription with its "$share/<group>/" part, so the
         # scale path (several provisiond sharing hellos) needs its own pattern.
         "acls": read_write(prefix + "/#") + read_write("$CONTROL/dynamic-security/#")
         + [acl("subscribePattern", "$share/provisiond/" + prefix + "/#"),
            acl("unsubscribePattern", "$share/provisiond/" + prefix + "/#")]},
        {"rolename": "operator", "textname": "operators: read status and events",
         "acls": watch},
    ] + [
        # dynsec in mosquitto 2.0 has no %u substitution in ACL topics: one role per operator. Each
        # operator publishes requests only on its own request topic, so provisiond knows from the
        # topic who asks (and which role provisiond gives it), and reads only its own replies.
        {"rolename": "operator-" + operator, "textname": "requests and replies of operator " + operator,
         "acls": [acl("publishClientSend", p + "/ops/request/" + operator)]
         + read_only(p + "/ops/reply/" + operator + "/#")}
        for operator in operators
    ] + [
        {"rolename": "monitor", "textname": "read-only: status, service status, events",
         "acls": watch},
        # '+' cannot be bound to the client's own id: provisiond trusts a hello only if its pubkey
        # matches the enrolled key (see Topics.md, "Broker accounts and ACLs").
        {"rolename": "hello-only", "textname": "not yet enrolled devices: announce only",
         "acls": [acl("publishClientSend", p + "/devices/+/hello")]},
    ]


def client(username, password, rolenames, text):
    salt = secrets.token_bytes(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode("utf-8"), salt, ITERATIONS, 64)
    return {
        "username": username,
        "textname": text,
        "password": base64.b64encode(digest).decode("ascii"),
        "salt": base64.b64encode(salt).decode("ascii"),
        "iterations": ITERATIONS,
        "roles": [{"rolename": r} for r in rolenames],
    }


def read_password(secrets_dir, account):
    path = os.path.join(secrets_dir, account + ".password")
    with open(path, "r", encoding="utf-8") as f:
        value = f.read().strip()
    if len(value) < 16:
        sys.exit(f"dynsec-json: {path}: password shorter than 16 characters")
    return value


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefix", default="bootstrap")
    ap.add_argument("--operator", action="append")
    ap.add_argument("--monitor", default="monitor")
    ap.add_argument("--secrets", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    a.operator = a.operator or ["operator"]
    if not PREFIX.match(a.prefix) or len(a.prefix) > 128:
        sys.exit(f"dynsec-json: invalid prefix '{a.prefix}' (levels of [A-Za-z0-9._-], at most 128 bytes)")
    for n in a.operator + [a.monitor]:
        if not NAME.match(n):
            sys.exit(f"dynsec-json: invalid account name '{n}' (1-64 of [A-Za-z0-9._-])")
    fixed = {"admin", "provisiond", "hello", a.monitor, *a.operator}
    if len(fixed) != 4 + len(a.operator):
        sys.exit("dynsec-json: operator and monitor names must differ from each other and from admin, provisiond, hello")

    doc = {
        "defaultACLAccess": {
            # Everything is denied unless a role allows it, including receiving: a client that took
            # over another session still gets nothing its own roles do not allow.
            "publishClientSend": False,
            "publishClientReceive": False,
            "subscribe": False,
            "unsubscribe": True,
        },
        "clients": [
            client("admin", read_password(a.secrets, "admin"), ["admin"], "broker administrator"),
            client("provisiond", read_password(a.secrets, "provisiond"), ["provisiond"], "provisioning service"),
            *[client(o, read_password(a.secrets, o), ["operator", "operator-" + o], "operator") for o in a.operator],
            client(a.monitor, read_password(a.secrets, a.monitor), ["monitor"], "monitor"),
            client("hello", read_password(a.secrets, "hello"), ["hello-only"], "shared account of not yet enrolled devices"),
        ],
        "groups": [],
        "roles": roles(a.prefix, a.operator),
    }
    tmp = a.out + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, a.out)


if __name__ == "__main__":
    main()
