"""Photos of documents sent with a request or a follow-up: checked by what they are, not what they are
called; stripped of their metadata; refused, in the requester's language and with their text kept, when
they are not photos or are over a limit; opened on the desk only by the case's teams."""

from __future__ import annotations

import io
import re
import secrets
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import func, select

from haven.attachments.models import Attachment
from haven.audit.models import AuditEvent
from haven.cases.models import Case
from haven.i18n import Translator
from haven.runtime import Runtime
from tests.conftest import Org, api_login, assert_problem
from tests.functional.photos import (
    BLUE,
    HTML_AS_JPG,
    PDF_AS_JPG,
    RED,
    jpeg_with_gps,
    png_declaring,
    png_with_text,
    small_png,
)
from tests.functional.seizure_scan import encodings_of

# Every test needs an organisation whose intake team receives the requests.
pytestmark = pytest.mark.usefixtures("org")

RU, EN = Translator("ru"), Translator("en")
LIMITS = {"max_files": 3, "max_mb": 8}
Files = list[tuple[str, tuple[str, bytes, str]]]


def marker() -> str:
    return "zq" + secrets.token_hex(6)


def send_request(
    client: TestClient, files: Files, *, lang: str = "en", message: str = "Here is the summons"
) -> Any:
    return client.post(
        f"/{lang}/request/legal",
        data={"q_danger_now": "no", "q_topic": "other", "message": message},
        files=files,
    )


def send_by_hand(client: TestClient, file_disposition: str, content: bytes) -> Any:
    """A request with one file part written byte by byte: an HTTP client library leaves out an empty
    filename, and a browser sends one for a file input left empty."""
    parts = [
        ('name="q_danger_now"', b"no"),
        ('name="q_topic"', b"other"),
        ('name="message"', b"Help"),
        (file_disposition, content),
    ]
    body = b"".join(
        b"--b0undary\r\nContent-Disposition: form-data; " + head.encode() + b"\r\n\r\n" + value + b"\r\n"
        for head, value in parts
    )
    return client.post(
        "/en/request/legal",
        content=body + b"--b0undary--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )


def jpeg(name: str, data: bytes) -> tuple[str, tuple[str, bytes, str]]:
    return ("files", (name, data, "image/jpeg"))


def png(name: str, data: bytes) -> tuple[str, tuple[str, bytes, str]]:
    return ("files", (name, data, "image/png"))


def only_case(client: TestClient, org: Org) -> dict[str, Any]:
    """Logs olena in and returns the one case in her queue, as the API shows it."""
    api_login(client, org.intake)
    queue = client.get("/api/v1/cases").json()
    assert len(queue) == 1, queue
    case: dict[str, Any] = client.get(f"/api/v1/cases/{queue[0]['id']}").json()
    return case


def listed_files(case: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for record in case["thread"] for f in record["files"]]


def download(client: TestClient, case_id: str, file_id: str) -> Any:
    return client.get(f"/desk/cases/{case_id}/files/{file_id}")


def sent_and_downloaded(client: TestClient, org: Org, name: str, data: bytes, kind: str) -> Any:
    sent = send_request(client, [("files", (name, data, kind))])
    assert sent.status_code == 201, sent.text
    case = only_case(client, org)
    (listed,) = listed_files(case)
    got = download(client, case["id"], listed["id"])
    assert got.status_code == 200, got.text
    return got


def assert_no_marker(data: bytes, mark: str) -> None:
    found = [name for name, pattern in encodings_of(mark).items() if pattern in data]
    assert not found, f"the marker is still in the file, as {found}"


def stored_cases(runtime: Runtime) -> int:
    with runtime.db.read() as s:
        return s.scalar(select(func.count()).select_from(Case)) or 0


def stored_files(runtime: Runtime) -> int:
    with runtime.db.read() as s:
        return s.scalar(select(func.count()).select_from(Attachment)) or 0


def chunk_names(png: bytes) -> set[bytes]:
    """The kinds of chunk a PNG is made of (IHDR, IDAT, tEXt, ...)."""
    names, at = set(), 8
    while at + 8 <= len(png):
        length = int.from_bytes(png[at : at + 4], "big")
        names.add(png[at + 4 : at + 8])
        at += 12 + length
    return names


def answer_kept(html: str, question: str, option: str) -> bool:
    return re.search(rf'name="q_{question}" value="{option}"\s+checked', html) is not None


# What reaches the operator.


def test_a_photos_exif_and_gps_never_reach_the_operator(client: TestClient, org: Org) -> None:
    mark = marker()
    original = jpeg_with_gps(mark)
    assert mark.encode() in original
    assert b"Exif" in original

    got = sent_and_downloaded(client, org, "photo.jpg", original, "image/jpeg")

    assert_no_marker(got.content, mark)
    assert b"Exif" not in got.content
    picture = Image.open(io.BytesIO(got.content))
    assert picture.format == "JPEG"
    assert dict(picture.getexif()) == {}
    assert picture.getexif().get_ifd(0x8825) == {}  # no GPS block
    assert "comment" not in picture.info
    assert "icc_profile" not in picture.info


def test_the_operators_copy_keeps_the_pictures_pixels(client: TestClient, org: Org) -> None:
    got = sent_and_downloaded(client, org, "photo.jpg", jpeg_with_gps(marker()), "image/jpeg")

    picture = Image.open(io.BytesIO(got.content)).convert("RGB")
    assert picture.size == (64, 32)
    assert_close(picture.getpixel((8, 16)), RED)
    assert_close(picture.getpixel((56, 16)), BLUE)


def test_a_photo_is_turned_upright_as_its_exif_orientation_says(client: TestClient, org: Org) -> None:
    # Orientation 6: the camera was turned; shown upright, the picture is rotated 90° clockwise.
    got = sent_and_downloaded(client, org, "side.jpg", jpeg_with_gps(marker(), orientation=6), "image/jpeg")

    picture = Image.open(io.BytesIO(got.content)).convert("RGB")
    assert picture.size == (32, 64)
    assert_close(picture.getpixel((16, 8)), RED)  # the left half is now on top
    assert_close(picture.getpixel((16, 56)), BLUE)
    assert 0x0112 not in picture.getexif()  # nothing left to turn it again


def test_a_pngs_text_chunks_never_reach_the_operator(client: TestClient, org: Org) -> None:
    mark = marker()
    original = png_with_text(mark)
    assert {b"tEXt", b"iTXt", b"zTXt"} <= chunk_names(original)

    got = sent_and_downloaded(client, org, "scan.png", original, "image/png")

    assert_no_marker(got.content, mark)
    assert chunk_names(got.content) == {b"IHDR", b"IDAT", b"IEND"}
    picture = Image.open(io.BytesIO(got.content))
    assert (picture.format, picture.size) == ("PNG", (40, 20))


def test_a_file_is_handed_out_to_be_saved_under_a_name_that_tells_nothing(
    client: TestClient, org: Org
) -> None:
    mark = marker()
    got = sent_and_downloaded(client, org, f"военный билет {mark}.jpg", jpeg_with_gps(mark), "image/jpeg")

    assert got.headers["content-type"] == "image/jpeg"
    disposition = got.headers["content-disposition"]
    assert re.fullmatch(r'attachment; filename="haven-[a-z0-9]{8}-[\w-]{8}\.jpg"', disposition), disposition
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["cache-control"] == "no-store"
    policy = got.headers["content-security-policy"]
    assert "sandbox" in policy.split("; ")
    assert "default-src 'none'" in policy


def test_the_type_handed_out_is_what_the_file_is_not_what_it_was_called(client: TestClient, org: Org) -> None:
    got = sent_and_downloaded(client, org, "looks-like.jpg", small_png(), "image/jpeg")

    assert got.headers["content-type"] == "image/png"
    assert got.headers["content-disposition"].endswith('.png"')


def test_the_case_page_lists_each_file_with_its_name_and_a_link(client: TestClient, org: Org) -> None:
    files = [jpeg("повестка.jpg", jpeg_with_gps(marker())), png("справка.png", small_png())]
    assert send_request(client, files).status_code == 201
    case = only_case(client, org)

    page = client.get(f"/desk/cases/{case['id']}")

    assert page.status_code == 200
    assert [f["name"] for f in listed_files(case)] == ["повестка.jpg", "справка.png"]
    for listed in listed_files(case):
        assert listed["name"] in page.text
        assert f'href="/desk/cases/{case["id"]}/files/{listed["id"]}"' in page.text


def test_the_requester_sees_the_names_of_their_files_and_never_a_link(client: TestClient) -> None:
    sent = send_request(client, [jpeg("повестка.jpg", jpeg_with_gps(marker()))], lang="ru")
    assert sent.status_code == 201, sent.text

    thread = client.get("/ru/thread")

    assert "повестка.jpg" in thread.text
    assert "/files/" not in thread.text


def test_the_requesters_api_thread_lists_the_names_of_their_files(client: TestClient) -> None:
    sent = send_request(client, [jpeg("повестка.jpg", jpeg_with_gps(marker()))])
    receipt = re.search(r'<p class="receipt" id="receipt">([^<]+)</p>', sent.text)
    assert receipt

    thread = client.get("/api/v1/requests/me", headers={"Authorization": f"Receipt {receipt.group(1)}"})

    assert thread.status_code == 200, thread.text
    assert thread.json()["messages"][0]["files"] == ["повестка.jpg"]


def test_a_follow_up_can_carry_a_photo(client: TestClient, org: Org) -> None:
    assert send_request(client, []).status_code == 201
    thread = client.get("/en/thread")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', thread.text)
    assert csrf

    followed = client.post(
        "/en/thread",
        data={"message": "And the certificate", "csrf_token": csrf.group(1)},
        files=[png("certificate.png", png_with_text(marker()))],
        follow_redirects=False,
    )

    assert followed.status_code == 303, followed.text
    assert "certificate.png" in client.get("/en/thread").text
    case = only_case(client, org)
    assert [f["name"] for f in listed_files(case)] == ["certificate.png"]
    assert case["thread"][-1]["text"] == "And the certificate"


def test_a_file_input_left_empty_sends_no_file(client: TestClient, runtime: Runtime) -> None:
    sent = send_by_hand(client, 'name="files"; filename=""', b"")

    assert sent.status_code == 201, sent.text
    assert stored_files(runtime) == 0


# What is refused, and how.


def test_a_file_sent_without_a_name_is_still_checked(client: TestClient, runtime: Runtime) -> None:
    refused = send_by_hand(client, 'name="files"; filename=""', HTML_AS_JPG)

    assert refused.status_code == 400
    assert EN("file_not_image") in refused.text
    assert stored_cases(runtime) == 0


@pytest.mark.parametrize("content", [HTML_AS_JPG, PDF_AS_JPG], ids=["html", "pdf"])
def test_a_photo_jpg_that_is_not_a_picture_is_refused_in_the_requesters_language(
    client: TestClient, runtime: Runtime, content: bytes
) -> None:
    mark = marker()

    refused = send_request(client, [jpeg("photo.jpg", content)], lang="ru", message=f"Помогите {mark}")

    assert refused.status_code == 400
    assert RU("file_not_image") in refused.text
    assert f"Помогите {mark}" in refused.text
    assert answer_kept(refused.text, "danger_now", "no")
    assert answer_kept(refused.text, "topic", "other")
    assert RU("files_choose_again") in refused.text
    assert stored_cases(runtime) == 0


def test_a_photo_over_the_byte_limit_is_refused_with_the_text_kept(
    client: TestClient, runtime: Runtime
) -> None:
    too_large = jpeg_with_gps(marker()) + bytes(8 * 1024 * 1024)

    refused = send_request(client, [jpeg("big.jpg", too_large)], lang="uk", message="Ось повістка")

    assert refused.status_code == 413
    assert Translator("uk")("file_too_large").format(**LIMITS) in refused.text
    assert "Ось повістка" in refused.text
    assert stored_cases(runtime) == 0


def test_more_files_than_allowed_are_refused_with_the_text_kept(client: TestClient, runtime: Runtime) -> None:
    four = [png(f"page-{n}.png", small_png()) for n in range(4)]

    refused = send_request(client, four, message="Four pages")

    assert refused.status_code == 400
    assert EN("too_many_files").format(**LIMITS) in refused.text
    assert "Four pages" in refused.text
    assert stored_cases(runtime) == 0


@pytest.mark.parametrize(
    ("width", "height"),
    [(8000, 6000), (20000, 20000)],
    ids=["over-our-pixel-limit", "over-pillows-own-limit"],
)
def test_a_decompression_bomb_is_refused_with_the_text_kept(
    client: TestClient, runtime: Runtime, width: int, height: int
) -> None:
    bomb = png_declaring(width, height)
    assert len(bomb) < 100_000

    refused = send_request(client, [png("bomb.png", bomb)], message="Small file, huge picture")

    assert refused.status_code == 400
    assert EN("file_too_many_pixels") in refused.text
    assert "Small file, huge picture" in refused.text
    assert stored_cases(runtime) == 0


def test_a_damaged_photo_is_refused(client: TestClient, runtime: Runtime) -> None:
    cut = jpeg_with_gps(marker())[:600]

    refused = send_request(client, [jpeg("cut.jpg", cut)])

    assert refused.status_code == 400
    assert EN("file_unreadable") in refused.text
    assert stored_cases(runtime) == 0


def test_a_follow_up_with_a_file_that_is_not_a_picture_keeps_its_text(
    client: TestClient, runtime: Runtime
) -> None:
    assert send_request(client, [], lang="ru").status_code == 201
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/ru/thread").text)
    assert csrf

    refused = client.post(
        "/ru/thread",
        data={"message": "Вот справка", "csrf_token": csrf.group(1)},
        files=[jpeg("справка.jpg", PDF_AS_JPG)],
    )

    assert refused.status_code == 400
    assert RU("file_not_image") in refused.text
    assert "Вот справка" in refused.text
    assert stored_files(runtime) == 0


def test_a_body_larger_than_every_file_allowed_is_refused_before_it_is_read(
    client: TestClient, runtime: Runtime
) -> None:
    four_big = [jpeg(f"big-{n}.jpg", bytes(7 * 1024 * 1024)) for n in range(4)]

    refused = send_request(client, four_big)

    assert refused.status_code == 413
    assert EN("files_too_large").format(**LIMITS) in refused.text
    assert stored_cases(runtime) == 0


@pytest.mark.parametrize("path", ["/en/return", "/desk/login", "/api/v1/session", "/api/v1/requests"])
def test_every_other_route_keeps_the_small_body_limit(client: TestClient, path: str) -> None:
    answer = client.post(path, files=[jpeg("photo.jpg", bytes(100 * 1024))])

    assert answer.status_code == 413


def test_the_json_api_takes_no_files(client: TestClient) -> None:
    answer = client.post("/api/v1/requests", files=[jpeg("photo.jpg", small_png())])

    assert answer.status_code in (413, 422)


# Who may open a file.


def test_another_teams_operator_gets_the_same_404_as_for_no_file(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    assert send_request(client, [png("scan.png", small_png())]).status_code == 201
    case = only_case(client, org)
    (listed,) = listed_files(case)
    client.cookies.clear()
    api_login(client, org.legal)

    theirs = download(client, case["id"], listed["id"])
    unknown_file = download(client, case["id"], "x" * 20)
    unknown_case = download(client, "y" * 16, listed["id"])

    assert theirs.status_code == unknown_file.status_code == unknown_case.status_code == 404
    assert theirs.text == unknown_case.text
    assert "scan.png" not in theirs.text


def test_opening_a_file_is_noted_in_the_audit_log_without_its_name(
    client: TestClient, org: Org, runtime: Runtime
) -> None:
    mark = marker()
    assert send_request(client, [png(f"{mark}.png", small_png())]).status_code == 201
    case = only_case(client, org)
    (listed,) = listed_files(case)

    assert download(client, case["id"], listed["id"]).status_code == 200

    with runtime.db.read() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "case.file_opened")).all()
    assert [(e.case_id, e.actor_id) for e in events] == [(case["id"], org.intake.id)]
    assert mark not in events[0].detail


def test_an_unknown_file_of_ones_own_case_is_a_404(client: TestClient, org: Org) -> None:
    assert send_request(client, [png("scan.png", small_png())]).status_code == 201
    case = only_case(client, org)

    assert download(client, case["id"], "x" * 20).status_code == 404


def test_the_requesters_session_cannot_fetch_desk_files(client: TestClient, org: Org) -> None:
    assert send_request(client, [png("scan.png", small_png())]).status_code == 201
    requester_cookies = dict(client.cookies)
    case = only_case(client, org)
    (listed,) = listed_files(case)
    client.cookies.clear()
    client.cookies.update(requester_cookies)

    answer = client.get(f"/desk/cases/{case['id']}/files/{listed['id']}", follow_redirects=False)

    assert (answer.status_code, answer.headers["location"]) == (303, "/desk/login")


def test_operators_list_and_download_files_over_the_api(client: TestClient, org: Org) -> None:
    mark = marker()
    assert send_request(client, [jpeg(f"id-{mark}.jpg", jpeg_with_gps(mark))]).status_code == 201
    case = only_case(client, org)
    (listed,) = listed_files(case)

    got = client.get(f"/api/v1/cases/{case['id']}/files/{listed['id']}")

    assert listed["name"] == f"id-{mark}.jpg"
    assert (listed["type"], listed["width"], listed["height"]) == ("image/jpeg", 64, 32)
    assert got.status_code == 200
    assert listed["size"] == len(got.content)
    assert_no_marker(got.content, mark)
    client.cookies.clear()
    api_login(client, org.legal)
    assert_problem(client.get(f"/api/v1/cases/{case['id']}/files/{listed['id']}"), 404, not_echoing=mark)


def assert_close(pixel: Any, colour: tuple[int, int, int], tolerance: int = 40) -> None:
    assert all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True)), (pixel, colour)
