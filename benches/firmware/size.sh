#!/usr/bin/env bash
# Builds the footprint firmware (opt-level "s") and prints its flash
# footprint: .text + .rodata of the linked ELF. Target: <= 24 KiB.
set -euo pipefail
cd "$(dirname "$0")"
rustup target list --installed | grep -q thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf
cargo build --release --quiet
elf=target/thumbv7em-none-eabihf/release/alertgate-firmware
python3 - "$elf" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:4] == b"\x7fELF" and data[4] == 1, "expected a 32-bit ELF"
shoff, = struct.unpack_from("<I", data, 0x20)
shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x2E)
def section(i):
    return struct.unpack_from("<IIIIIIIIII", data, shoff + i * shentsize)
strtab = section(shstrndx)
def name(off):
    start = strtab[4] + off
    return data[start:data.index(b"\0", start)].decode()
sizes = {}
for i in range(shnum):
    s = section(i)
    sizes[name(s[0])] = s[5]
text, rodata = sizes.get(".text", 0), sizes.get(".rodata", 0)
total = text + rodata
print(f".text {text} B, .rodata {rodata} B, total {total} B ({total/1024:.1f} KiB); target <= 24 KiB")
sys.exit(0 if total <= 24 * 1024 else 1)
PY
