#!/usr/bin/python3 -sSE
"""A TCP proxy that plays the network between an agent and its broker across a Wi-Fi switch.

usage: netswitch-proxy.py --broker HOST:PORT --switch-file FILE --initial NETWORK
                          --listen ADDR=NETWORK [--listen ADDR=NETWORK ...] [--hold NETWORK=SECONDS]

Each --listen address (port chosen by the kernel) is the broker as seen from one Wi-Fi network, by
that network's SSID: 127.0.0.1=FleetProvisioning, 127.0.0.2=Premises. The device is on one network
at a time, at first --initial. The wifi stand-in appends a line to FILE (the scenario's "netswitch"
member) each time a reload restarts the station: the SSID it now has a lease on, or "-". Then, as a
radio switch does, every connection opened before goes silent in both directions: no FIN, no RST,
bytes are neither read nor forwarded, the sockets stay open until the proxy ends. A connection to an
address whose network the device is not on is accepted and stays silent too (packets into nowhere).
A connection on the current network is forwarded to the broker (after --hold seconds for that
network: a slow path that gives a test a moment between the agent's connect and its CONNACK); when
the broker is down it is reset.

Prints "listen ADDR PORT NETWORK" per address, then "ready", "accept NETWORK" per connection and
"switch NETWORK" per switch; runs until SIGTERM.
"""
import argparse
import os
import selectors
import signal
import socket
import struct
import sys
import time


class Proxy:
    def __init__(self, broker, switch_file, network):
        self.broker = broker
        self.switch_file = switch_file
        self.switch_pos = 0
        self.network = network
        self.sel = selectors.DefaultSelector()
        self.peer = {}  # live socket -> its partner
        self.silent = []  # sockets kept open and never touched again
        self.listeners = {}  # listening socket -> network
        self.hold = {}  # network -> seconds a new connection waits before it is forwarded
        self.held = []  # (forward at, client socket)

    def listen(self, addr, network):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, 0))
        s.listen(64)
        s.setblocking(False)
        self.sel.register(s, selectors.EVENT_READ)
        self.listeners[s] = network
        print("listen %s %d %s" % (addr, s.getsockname()[1], network), flush=True)

    def silence(self, s):
        try:
            self.sel.unregister(s)
        except (KeyError, ValueError):
            pass
        self.peer.pop(s, None)
        self.silent.append(s)

    def close(self, s, reset):
        try:
            self.sel.unregister(s)
        except (KeyError, ValueError):
            pass
        self.peer.pop(s, None)
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()

    def check_switch(self):
        try:
            with open(self.switch_file, "r", encoding="utf-8") as f:
                f.seek(self.switch_pos)
                lines = f.read()
        except OSError:
            return
        if not lines.endswith("\n"):
            return  # a line being written: next time
        self.switch_pos += len(lines.encode("utf-8"))
        names = [x for x in lines.split("\n") if x]
        if not names:
            return
        self.network = names[-1]
        for s in list(self.peer):
            self.silence(s)
        self.silent.extend(c for _, c in self.held)
        self.held = []
        print("switch %s" % self.network, flush=True)

    def accept(self, ls):
        try:
            c, _ = ls.accept()
        except OSError:
            return
        network = self.listeners[ls]
        print("accept %s" % network, flush=True)
        if network != self.network:
            self.silent.append(c)
            return
        self.held.append((time.monotonic() + self.hold.get(network, 0), c))

    def forward(self, c):
        try:
            u = socket.create_connection(self.broker, timeout=5)
        except OSError:
            self.close(c, True)
            return
        for s in (c, u):
            s.setblocking(False)
            self.sel.register(s, selectors.EVENT_READ)
        self.peer[c], self.peer[u] = u, c

    def pump(self, s):
        other = self.peer.get(s)
        if other is None:
            return
        try:
            data = s.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.close(s, False)
            self.close(other, False)
            return
        try:
            other.setblocking(True)
            other.sendall(data)
            other.setblocking(False)
        except OSError:
            self.close(s, True)
            self.close(other, False)

    def run(self):
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        print("ready", flush=True)
        while not stop:
            for key, _ in self.sel.select(timeout=0.05):
                s = key.fileobj
                if s in self.listeners:
                    self.accept(s)
                else:
                    self.pump(s)
            self.check_switch()
            now = time.monotonic()
            due = [c for t, c in self.held if t <= now]
            self.held = [(t, c) for t, c in self.held if t > now]
            for c in due:
                self.forward(c)


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--broker", required=True)
    ap.add_argument("--switch-file", required=True)
    ap.add_argument("--initial", required=True)
    ap.add_argument("--listen", action="append", required=True)
    ap.add_argument("--hold", action="append", default=[])
    a = ap.parse_args(argv[1:])
    host, port = a.broker.rsplit(":", 1)
    p = Proxy((host, int(port)), a.switch_file, a.initial)
    if os.path.exists(a.switch_file):
        p.switch_pos = os.path.getsize(a.switch_file)
    for item in a.hold:
        network, secs = item.split("=", 1)
        p.hold[network] = float(secs)
    for item in a.listen:
        addr, network = item.split("=", 1)
        p.listen(addr, network)
    p.run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
