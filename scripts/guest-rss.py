#!/usr/bin/python3 -sSE
"""Peak resident memory of a program running under qemu-user (qemu-mipsel), the guest's own pages only.

Under qemu-user the guest's getrusage() and /proc/self/status describe the qemu process: its
translated-code cache and its own heap (tens of MB) come on top of the guest's pages. qemu maps the
guest's address space as one range of its own: guest address A is host address guest_base + A, and
for a 32-bit guest nothing of qemu's lies in [guest_base, guest_base + 4 GiB). So the guest's RSS is
the sum of the `Rss:` of the host mappings in that range (/proc/PID/smaps): its binary's pages, the
loader and libraries of a dynamic build, heap, stacks, thread stacks. guest_base comes from where the
binary's first segment (file offset 0) is mapped, minus that segment's page-aligned p_vaddr.

usage: guest-rss.py PID BINARY [INTERVAL_SECONDS]
Samples every INTERVAL (0.1 s) until PID exits (or SIGTERM/SIGINT), then prints one line:
  guest_peak_kb=N guest_last_kb=N qemu_vmhwm_kb=N samples=N
"""
import os
import signal
import struct
import sys
import time

PAGE = 4096


def first_segment_vaddr(path):
    """p_vaddr of the PT_LOAD with file offset 0 of a 32-bit little-endian ELF, page-aligned."""
    with open(path, "rb") as f:
        ident = f.read(52)
        if ident[:4] != b"\x7fELF" or ident[4] != 1 or ident[5] != 1:
            raise SystemExit("guest-rss: %s is not a 32-bit little-endian ELF" % path)
        phoff, = struct.unpack_from("<I", ident, 28)
        phentsize, phnum = struct.unpack_from("<HH", ident, 42)
        for i in range(phnum):
            f.seek(phoff + i * phentsize)
            p_type, p_offset, p_vaddr = struct.unpack("<III", f.read(12))
            if p_type == 1 and p_offset == 0:
                return p_vaddr & ~(PAGE - 1)
    raise SystemExit("guest-rss: %s has no PT_LOAD at file offset 0" % path)


def guest_base(pid, binary, vaddr):
    real = os.path.realpath(binary)
    with open("/proc/%d/maps" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 6 and parts[5] == real and int(parts[2], 16) == 0:
                return int(parts[0].split("-")[0], 16) - vaddr
    return None


def guest_rss_kb(pid, base):
    total = 0
    inside = False
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            first = line.split(" ", 1)[0]
            if "-" in first and not first.endswith(":"):
                start, end = (int(x, 16) for x in first.split("-"))
                inside = start >= base and end <= base + (1 << 32)
            elif inside and first == "Rss:":
                total += int(line.split()[1])
    return total


def vmhwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def main():
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__.split("\n\n")[-1].strip())
    pid, binary = int(sys.argv[1]), sys.argv[2]
    interval = float(sys.argv[3]) if len(sys.argv) == 4 else 0.1
    vaddr = first_segment_vaddr(binary)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    base = None
    peak = last = hwm = samples = 0
    while not stop:
        try:
            if base is None:
                base = guest_base(pid, binary, vaddr)
            if base is not None:
                last = guest_rss_kb(pid, base)
                peak = max(peak, last)
                hwm = vmhwm_kb(pid)
                samples += 1
        except (FileNotFoundError, ProcessLookupError):
            break
        time.sleep(interval)
    print("guest_peak_kb=%d guest_last_kb=%d qemu_vmhwm_kb=%d samples=%d" % (peak, last, hwm, samples))


main()
