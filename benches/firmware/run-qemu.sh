#!/usr/bin/env bash
# Runs the gate on an emulated Cortex-M4 (QEMU's mps2-an386): builds the
# `qemu` firmware (src/bin/qemu.rs), runs its fixed script of requests and
# prints one decision line per request and the instructions of one accepted
# check. Exits 0 only when every decision is the expected one; a hung or
# crashed emulator fails too (timeout: QEMU_TIMEOUT seconds, default 120).
#
# `-icount shift=0`: every instruction advances the virtual clock by 1 ns,
# which SysTick counts (the firmware calibrates ticks to instructions).
# Semihosting carries the output and the exit status.
set -euo pipefail
cd "$(dirname "$0")"
rustup target list --installed | grep -q thumbv7em-none-eabihf || rustup target add thumbv7em-none-eabihf
command -v qemu-system-arm >/dev/null || {
  echo "qemu-system-arm not found (Debian: apt-get install qemu-system-arm)" >&2
  exit 2
}
cargo build --release --quiet --bin qemu
elf="${CARGO_TARGET_DIR:-target}/thumbv7em-none-eabihf/release/qemu"
status=0
timeout --kill-after=5 "${QEMU_TIMEOUT:-120}" qemu-system-arm \
  -M mps2-an386 -cpu cortex-m4 -nographic -monitor none -serial none \
  -icount shift=0 -semihosting-config enable=on,target=native \
  -kernel "$elf" || status=$?
case "$status" in
  0) echo "run-qemu: every decision as expected" ;;
  124|137) echo "run-qemu: FAILED: QEMU did not finish within ${QEMU_TIMEOUT:-120} s" >&2 ;;
  *) echo "run-qemu: FAILED (QEMU exit status $status)" >&2 ;;
esac
exit "$status"
