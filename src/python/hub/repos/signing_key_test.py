"""hub.repos.signing_key: gpg's colon listing parsed, and the key policy (RSA >= 3072, usable
signing keys only) applied to every signing (sub)key."""

from __future__ import annotations

import pytest

from hub.repos.signing_key import SigningError, check_key, parse_secret_keys


def test_colon_listing_is_parsed_and_checked() -> None:
    listing = (
        "sec:u:3072:1:AAAAAAAAAAAAAAAA:1700000000:::u:::scESC:::+:::23::0:\n"
        "fpr:::::::::0123456789ABCDEF0123456789ABCDEFAAAAAAAA:\n"
        "uid:u::::1700000000::X::T <t@example.org>::::::::::0:\n"
        "ssb:u:255:22:BBBBBBBBBBBBBBBB:1700000000::::::s:::+:::ed25519::\n"
        "fpr:::::::::FFFFFFFFFFFFFFFFFFFFFFFFBBBBBBBBBBBBBBBB:\n"
    )
    (key,) = parse_secret_keys(listing)
    assert [k.kind for k in key] == ["sec", "ssb"]
    assert key[0].fingerprint.endswith("AAAAAAAA") and key[1].algo == "22"
    with pytest.raises(SigningError, match=r"ssb BBBBBBBBBBBBBBBB: EdDSA 255 bits"):
        check_key(key)
    assert check_key(key[:1]) == "0123456789ABCDEF0123456789ABCDEFAAAAAAAA"
    expired = parse_secret_keys(listing.replace("sec:u:", "sec:e:"))[0][:1]
    with pytest.raises(SigningError, match="no usable secret signing key"):
        check_key(expired)
