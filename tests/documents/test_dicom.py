"""Study metadata from real DICOM files (pydicom samples)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hms.documents.dicom import read_study
from hms.documents.errors import UnsupportedDocumentType
from tests.documents.factories import CT_SMALL, MR_SMALL, dicom_index


class TestReadStudy:
    @pytest.mark.parametrize("path", [CT_SMALL, MR_SMALL], ids=["ct", "mr"])
    def test_reads_the_study_tags_of_the_index(self, path: Path) -> None:
        expected = dicom_index()[path.name]
        study = read_study(path)
        assert study.modality == expected["modality"]
        assert study.study_uid == expected["study_instance_uid"]
        assert study.series_uid == expected["series_instance_uid"]
        assert study.sop_instance_uid == expected["sop_instance_uid"]
        assert study.study_date == date(int(expected["study_date"][:4]),
                                        int(expected["study_date"][4:6]),
                                        int(expected["study_date"][6:]))

    def test_holds_no_patient_attribute(self) -> None:
        study = read_study(CT_SMALL)
        assert "CompressedSamples" not in repr(study)
        assert "1CT1" not in repr(study)

    def test_a_preamble_with_garbage_after_it_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "fake.dcm"
        path.write_bytes(b"\x00" * 128 + b"DICM" + b"garbage" * 3)
        with pytest.raises(UnsupportedDocumentType):
            read_study(path)

    def test_a_truncated_dicom_is_refused(self, tmp_path: Path) -> None:
        path = tmp_path / "cut.dcm"
        path.write_bytes(CT_SMALL.read_bytes()[:200])
        with pytest.raises(UnsupportedDocumentType):
            read_study(path)
