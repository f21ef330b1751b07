"""Scanned papers and images attached to visits [DocumentReference], DICOM metadata indexed."""
