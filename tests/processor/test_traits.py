"""Trait normalisation and trait mappings, with inputs as real forms, CRMs and SDKs send them."""

import unicodedata

import pytest

from processor.traits import consent_flag, mapped_traits, normalize_email, normalize_phone, normalize_traits


@pytest.mark.parametrize(
    ("raw", "region", "e164"),
    [
        ("+49 30 901820", None, "+4930901820"),
        ("030 901820", "DE", "+4930901820"),
        ("030/901820", "de", "+4930901820"),  # region case does not matter
        ("(415) 555-2671", "US", "+14155552671"),
        ("415.555.2671", "US", "+14155552671"),
        ("1-415-555-2671", "US", "+14155552671"),
        ("+1 415 555 2671 ext. 12", None, "+14155552671"),  # E.164 has no extension
        ("+1-800-FLOWERS", None, "+18003569377"),  # vanity letters
        ("0044 20 7946 0958", None, "+442079460958"),  # 00 international prefix, no region needed
        ("+44 (0)20 7946 0958", None, "+442079460958"),  # the UK's "(0)" habit
        ("07911 123456", "GB", "+447911123456"),
        ("+33 6 12 34 56 78", None, "+33612345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("+81 3-1234-5678", None, "+81312345678"),
        # Full-width digits and dashes, as a Japanese IME types them.
        ("\uff10\uff19\uff10\uff0d\uff11\uff12\uff13\uff14\uff0d\uff15\uff16\uff17\uff18", "JP", "+819012345678"),
        ("+91 98765 43210", None, "+919876543210"),
        ("  +49 151 12345678  ", "US", "+4915112345678"),  # an explicit country code beats the region
        (4915112345678, "DE", "+4915112345678"),  # an integer lost its +: read as international first
        (4155552671, "US", "+14155552671"),  # ...and as national when that is not a valid number
    ],
)
def test_phone_numbers_become_e164(raw, region, e164):
    assert normalize_phone(raw, region) == e164


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("4155552671", None),  # national number without a region: cannot know the country
        ("4155552671", "XX"),  # an unknown region counts as none
        ("+1 555 123 4567", None),  # 555 numbers are fictional: parses, not valid
        ("call me", "US"),
        ("", "US"),
        ("12", "US"),
        (True, "US"),
        (None, "US"),
        ({"number": "+4930901820"}, None),
        ("+" + "1" * 80, None),
    ],
)
def test_unusable_phone_numbers_are_dropped(raw, region):
    assert normalize_phone(raw, region) is None
    assert normalize_traits({"phone": raw, "plan": "pro"}, default_region=region) == {"plan": "pro"}


@pytest.mark.parametrize(
    ("raw", "address"),
    [
        ("  Ada.Lovelace@Example.COM ", "ada.lovelace@example.com"),
        ("USER+Newsletter@GMail.com", "user+newsletter@gmail.com"),
        ("mailto:Bob@Example.org", "bob@example.org"),
        ("Ada Lovelace <Ada@Example.com>", "ada@example.com"),
        ("JOSÉ@Bücher.DE", "josé@bücher.de"),
        ("user@xn--bcher-kva.de", "user@xn--bcher-kva.de"),
        ("first.last@sub.example.co.uk", "first.last@sub.example.co.uk"),
        ("\tsupport@startup.travel\n", "support@startup.travel"),
    ],
)
def test_emails_are_trimmed_and_lower_cased(raw, address):
    assert normalize_email(raw) == address
    assert normalize_traits({"email": raw}) == {"email": address}


@pytest.mark.parametrize(
    "raw",
    ["not an email", "ada@", "@example.com", "ada@localhost", "ada@example", "a b@example.com", "ada@@example.com",
     "ada@-example.com", "ada@example.c", "", "   ", 42, None, ["ada@example.com"], "x" * 250 + "@example.com"],
)
def test_implausible_emails_are_dropped_without_failing(raw):
    assert normalize_email(raw) is None
    assert normalize_traits({"email": raw, "plan": "pro"}) == {"plan": "pro"}


def test_names_are_trimmed_and_composed():
    decomposed = unicodedata.normalize("NFD", "José")
    traits = normalize_traits({"firstName": f"  {decomposed} ", "lastName": "García  Márquez\n"})

    assert traits == {"firstName": "José", "lastName": "García Márquez"}
    assert traits["firstName"] == unicodedata.normalize("NFC", "José")


def test_snake_case_names_map_to_segment_camel_case():
    assert normalize_traits({"first_name": " Zoë", "last_name": "Øvergård "}) == {
        "firstName": "Zoë", "lastName": "Øvergård",
    }
    assert normalize_traits({"first_name": "李", "last_name": "小龍"}) == {"firstName": "李", "lastName": "小龍"}


def test_camel_case_name_wins_over_its_alias_whatever_the_key_order():
    assert normalize_traits({"first_name": "Old", "firstName": "New"}) == {"firstName": "New"}
    assert normalize_traits({"firstName": "New", "first_name": "Old"}) == {"firstName": "New"}


def test_empty_or_non_text_names_are_dropped():
    assert normalize_traits({"firstName": "   ", "lastName": 7, "first_name": "x"}) == {}


@pytest.mark.parametrize(
    ("raw", "flag"),
    [
        (True, True), (False, False), ("yes", True), ("No", False), ("TRUE", True), ("false", False),
        (1, True), (0, False), ("1", True), ("0", False), (" granted ", True), ("DENIED", False),
        ("on", True), ("off", False), (1.0, True),
    ],
)
def test_consent_values_become_booleans(raw, flag):
    assert consent_flag(raw) is flag
    assert normalize_traits({"consent": {"email": raw}}) == {"consent": {"email": flag}}
    assert normalize_traits({"consent.sms": raw}) == {"consent": {"sms": flag}}


@pytest.mark.parametrize("raw", ["maybe", "", None, 2, -1, [], {"granted": True}])
def test_consent_values_that_say_neither_are_dropped(raw):
    assert consent_flag(raw) is None
    assert normalize_traits({"consent": {"email": raw}, "consent.sms": raw}) == {}


def test_consent_object_and_dotted_keys_merge_and_the_dotted_key_wins():
    traits = normalize_traits({"consent.email": "denied", "consent": {"email": "granted", "sms": "yes"},
                               "consent.push": 1})

    assert traits == {"consent": {"email": False, "sms": True, "push": True}}


def test_a_consent_that_is_not_an_object_is_dropped():
    assert normalize_traits({"consent": "yes", "plan": "pro"}) == {"plan": "pro"}


def test_other_traits_pass_through_unchanged():
    traits = {"plan": "pro", "Email Address": " X@Y.COM ", "age": 41, "tags": ["a"], "company": {"name": "Acme"},
              "name": "  Ada Lovelace ", "nothing": None}

    assert normalize_traits(traits) == traits


def test_a_full_identify_is_normalised_in_one_pass():
    traits = normalize_traits(
        {"email": " Ana@Example.PT", "first_name": "Ana", "lastName": "Conceição", "phone": "912 345 678",
         "consent": {"email": "yes"}, "consent.sms": "no", "plan": "free"},
        default_region="PT",
    )

    assert traits == {"email": "ana@example.pt", "firstName": "Ana", "lastName": "Conceição",
                      "phone": "+351912345678", "consent": {"email": True, "sms": False}, "plan": "free"}


def test_mapped_traits_follow_dotted_paths():
    properties = {"form": {"email": "Ana@Example.pt", "contact": {"phone": "912 345 678"}},
                  "items": [{"sku": "A1"}], "plan": "pro"}
    mappings = [("form.email", "email"), ("form.contact.phone", "phone"), ("items.0.sku", "first_sku"),
                ("plan", "plan")]

    assert mapped_traits(properties, mappings) == {"email": "Ana@Example.pt", "phone": "912 345 678",
                                                   "first_sku": "A1", "plan": "pro"}


def test_mapped_traits_skip_missing_paths_and_nulls():
    properties = {"form": {"email": None, "name": "Ana"}, "items": [], "plan": "pro"}
    mappings = [("form.email", "email"), ("form.missing", "x"), ("items.0.sku", "sku"), ("plan.tier", "tier"),
                ("nothing", "y"), ("form.name.first", "z")]

    assert mapped_traits(properties, mappings) == {}


def test_a_flat_dotted_property_key_is_found_as_is():
    assert mapped_traits({"consent.email": "yes"}, [("consent.email", "consent.email")]) == {"consent.email": "yes"}


def test_the_first_mapping_found_for_a_trait_wins():
    mappings = [("work_email", "email"), ("email", "email")]

    assert mapped_traits({"email": "b@x.io"}, mappings) == {"email": "b@x.io"}
    assert mapped_traits({"email": "b@x.io", "work_email": "a@x.io"}, mappings) == {"email": "a@x.io"}


def test_mapped_traits_then_normalised_give_clean_traits():
    properties = {"form": {"email": " Ana@Example.PT ", "phone": "912345678", "newsletter": "on"}}
    mappings = [("form.email", "email"), ("form.phone", "phone"), ("form.newsletter", "consent.email")]

    assert normalize_traits(mapped_traits(properties, mappings), default_region="PT") == {
        "email": "ana@example.pt", "phone": "+351912345678", "consent": {"email": True},
    }
