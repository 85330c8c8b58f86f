"""Regenerate the bundled synthetic samples exactly (seed 20261123, with traps)."""

from __future__ import annotations

from pathlib import Path

from midlayout.synth import generate_vendor_a, generate_vendor_b

HERE = Path(__file__).resolve().parent
SEED = 20261123
VENDOR_A_HOUSEHOLDS = 40
VENDOR_B_HOUSEHOLDS = 25


def main() -> None:
    """Write samples/vendor_a and samples/vendor_b next to this script."""
    generate_vendor_a(HERE / "vendor_a", VENDOR_A_HOUSEHOLDS, SEED, traps=True)
    generate_vendor_b(HERE / "vendor_b", VENDOR_B_HOUSEHOLDS, SEED, traps=True)


if __name__ == "__main__":
    main()
