"""Pure rules: national ID, mobile, names."""

from __future__ import annotations

from datetime import date

import pytest

from hms.patients import validators as v


class TestNationalId:
    def test_decodes_birth_date_governorate_and_gender(self):
        info = v.parse_national_id("30502288800025")
        assert (info.birth_date, info.governorate_code, info.gender) == (
            date(2005, 2, 28), "88", "female")

    def test_leap_days(self):
        assert v.parse_national_id("30002290100015").birth_date == date(2000, 2, 29)
        with pytest.raises(v.InvalidValue) as err:
            v.parse_national_id("29002290100015")  # 1900 was not a leap year
        assert err.value.reason == "national_id_birth_date"

    def test_gender_from_thirteenth_digit(self):
        assert v.parse_national_id("29001010100015").gender == "male"
        assert v.parse_national_id("29001010100025").gender == "female"

    def test_birth_date_today_is_not_future(self):
        today = date(2024, 5, 6)
        assert v.parse_national_id("32405060100015", today=today).birth_date == today
        with pytest.raises(v.InvalidValue) as err:
            v.parse_national_id("32405070100015", today=today)
        assert err.value.reason == "national_id_future_birth_date"

    def test_non_ascii_digits_refused(self):
        with pytest.raises(v.InvalidValue) as err:
            v.parse_national_id("٢٩٠٠١٠١٠١٠٠٠١٥")
        assert err.value.reason == "national_id_format"

    def test_unknown_gender_is_not_checked(self):
        assert v.check_national_id("29001010100025", gender="unknown").gender == "female"


class TestMobile:
    @pytest.mark.parametrize(("raw", "stored"), [
        ("01012345678", "01012345678"),
        ("+201512345678", "01512345678"),
        ("00201212345678", "01212345678"),
        ("201112345678", "01112345678"),
        ("010-1234-5678", "01012345678"),
    ])
    def test_normalised_forms(self, raw, stored):
        assert v.normalize_mobile(raw) == stored

    @pytest.mark.parametrize("raw", ["01312345678", "0101234567", "+2001012345678", ""])
    def test_rejected(self, raw):
        with pytest.raises(v.InvalidValue):
            v.normalize_mobile(raw)


class TestNames:
    def test_fold_strips_latin_accents_and_case(self):
        assert v.fold_name("  José   ÁLVAREZ Müller ") == "jose alvarez muller"

    def test_fold_arabic_variants(self):
        assert v.fold_name("أحمد") == v.fold_name("احمد")
        assert v.fold_name("فاطمة") == v.fold_name("فاطمه")
        assert v.fold_name("مُصطفى") == v.fold_name("مصطفي")

    def test_split_full_name(self):
        assert v.split_full_name("Ahmed Mohamed Ali") == ("Ahmed", "Mohamed Ali")
        assert v.split_full_name("Cher") == ("Cher", None)

    def test_patient_number_must_not_look_like_other_references(self):
        for bad in ("12345678901234", "0b0c7b8e-4d6a-4f37-9b8a-1b2c3d4e5f60", "a b"):
            with pytest.raises(v.InvalidValue):
                v.normalize_patient_number(bad)
        assert v.normalize_patient_number("pt-20250101-0001") == "PT-20250101-0001"
