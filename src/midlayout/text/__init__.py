"""Japanese text primitives: 和暦, kana and width normalisation, mainframe numerics."""
