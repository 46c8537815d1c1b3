"""Tools for authors: lessons/ and the workbooks generated from solutions/ and course/."""
