"""Reports of the sanitizers a build may carry (scripts/test builds with
-Db_sanitize=address,undefined): a program whose output holds one fails the
test, whatever its exit status, since a daemon's leak report at exit or an
undefined-behaviour report (UBSan goes on by default) changes nothing else a
test looks at."""

MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", ": runtime error: ")


def sanitizer_report(text: str) -> str:
    """The report in text, from its first line on (cut to 4000 characters), or ""."""
    starts = [i for i in (text.find(m) for m in MARKERS) if i >= 0]
    if not starts:
        return ""
    begin = text.rfind("\n", 0, min(starts)) + 1
    return text[begin:begin + 4000]


def assert_no_sanitizer_report(text: str, what: str) -> None:
    report = sanitizer_report(text)
    assert not report, f"{what}: a sanitizer reported an error:\n{report}"
