"""Notes: the paginated list, create, show, edit, delete, and one image per note.

Every query is filtered by the logged-in owner, so another user's note is a 404 — the
same answer as a note that does not exist, which tells nobody what others have.
"""

from __future__ import annotations

import asyncio
import math
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from kettle import (
    FileResponse,
    FormData,
    Request,
    Router,
    UploadFile,
    abort,
    flash,
    login_required,
    redirect,
    render_template,
    secure_filename,
    url_for,
)

from ..models import BODY_MAX, TITLE_MAX, Note
from .auth import field

notes = Router(name="notes")

PER_PAGE = 10
#: The largest request the image route reads: the image and the form around it.
MAX_IMAGE_UPLOAD = 2 * 1024 * 1024
#: What an image's first bytes are (its "magic number"), and what it is then. The client's
#: file name and Content-Type are claims; the content is the fact.
IMAGE_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
    (b"GIF87a", "image/gif", "gif"),
    (b"GIF89a", "image/gif", "gif"),
)


@dataclass(frozen=True)
class Page:
    """One page of a list: its items, its number and how many pages there are."""

    items: list[Note]
    number: int
    pages: int
    total: int

    @property
    def has_prev(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def image_kind(head: bytes) -> tuple[str, str] | None:
    """``(media type, extension)`` of an image starting with ``head``; ``None`` if it is
    not a PNG, JPEG, GIF or WebP image.
    """
    for magic, media_type, ext in IMAGE_SIGNATURES:
        if head.startswith(magic):
            return media_type, ext
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp", "webp"
    return None


def stored_name(client_name: str, ext: str) -> str:
    """A file name of our own: a random prefix (two uploads of ``cat.png`` never collide,
    and nobody can guess a name), the client's name made safe, and the extension of what
    the file really is.
    """
    stem = secure_filename(client_name).rpartition(".")[0] or secure_filename(client_name)
    return f"{secrets.token_hex(8)}-{stem[:100] or 'image'}.{ext}"


def display_name(client_name: str) -> str:
    """The client's file name for showing back: printable characters, bounded length."""
    return "".join(ch for ch in client_name if ch.isprintable())[:200] or "image"


def upload_folder(req: Request) -> Path:
    return Path(req.app.config["UPLOAD_FOLDER"])


async def remove_image(req: Request, file_name: str) -> None:
    await asyncio.to_thread((upload_folder(req) / file_name).unlink, missing_ok=True)


async def owned_note(req: Request, id: int) -> Note:
    """The note ``id`` of the logged-in user, or a 404 (also for other users' notes)."""
    mine = select(Note).where(Note.id == id, Note.owner_id == req.user.id)
    note: Note | None = await req.db.scalar(mine)
    if note is None:
        abort(404, "There is no such note.")
    return note


def read_note_form(form: FormData) -> tuple[str, str, str | None]:
    """The title and body of a submitted note, and what is wrong with them (or ``None``)."""
    title = field(form, "title").strip()
    body = field(form, "body").strip().replace("\r\n", "\n")
    if not title:
        return title, body, "A note needs a title."
    if len(title) > TITLE_MAX:
        return title, body, f"A title has at most {TITLE_MAX} characters."
    if len(body) > BODY_MAX:
        return title, body, f"A note has at most {BODY_MAX} characters."
    return title, body, None


@notes.get("/")
@login_required
async def index(req: Request) -> str:
    page_arg = req.query.get("page", "1")
    if not (page_arg.isascii() and page_arg.isdigit()) or int(page_arg) < 1:
        abort(404, "There is no such page.")
    number = int(page_arg)
    mine = Note.owner_id == req.user.id
    total = await req.db.scalar(select(func.count()).select_from(Note).where(mine)) or 0
    pages = max(1, math.ceil(total / PER_PAGE))
    if number > pages:
        abort(404, "There is no such page.")
    items = await req.db.scalars(
        select(Note)
        .where(mine)
        .order_by(Note.id.desc())  # newest first
        .limit(PER_PAGE)
        .offset((number - 1) * PER_PAGE)
    )
    page = Page(list(items), number, pages, total)
    return render_template("notes/index.html", page=page)


@notes.route("/new", methods=["GET", "POST"])
@login_required
async def create(req: Request) -> Any:
    if req.method == "GET":
        return render_template("notes/form.html", note=None, title="", body="")
    title, body, error = read_note_form(await req.form())
    if error is not None:
        flash(req, error, "error")
        return render_template("notes/form.html", note=None, title=title, body=body), 400
    note = Note(owner_id=req.user.id, title=title, body=body)
    req.db.add(note)
    await req.db.flush()  # the INSERT now, so that note.id is known
    flash(req, f"Created the note “{title}”.", "success")
    return redirect(url_for("notes.show", id=note.id), 303)


@notes.get("/<int:id>")
@login_required
async def show(req: Request, id: int) -> str:
    note = await owned_note(req, id)
    return render_template("notes/show.html", note=note, max_upload=MAX_IMAGE_UPLOAD)


@notes.route("/<int:id>/edit", methods=["GET", "POST"])
@login_required
async def edit(req: Request, id: int) -> Any:
    note = await owned_note(req, id)
    if req.method == "GET":
        return render_template("notes/form.html", note=note, title=note.title, body=note.body)
    title, body, error = read_note_form(await req.form())
    if error is not None:
        flash(req, error, "error")
        return render_template("notes/form.html", note=note, title=title, body=body), 400
    note.title, note.body = title, body
    flash(req, f"Saved the note “{title}”.", "success")
    return redirect(url_for("notes.show", id=note.id), 303)


@notes.post("/<int:id>/delete")
@login_required
async def delete(req: Request, id: int) -> Any:
    note = await owned_note(req, id)
    image = note.image_file
    await req.db.delete(note)
    # Commit before removing the file: if the commit failed, the note would keep a
    # reference to an image that is gone.
    await req.db.commit()
    if image:
        await remove_image(req, image)
    flash(req, f"Deleted the note “{note.title}”.", "success")
    return redirect(url_for("notes.index"), 303)


def refuse_upload(req: Request, note: Note, message: str) -> tuple[str, int]:
    flash(req, message, "error")
    return render_template("notes/show.html", note=note, max_upload=MAX_IMAGE_UPLOAD), 400


# The body limit applies to this route only (413 beyond it, checked before reading when
# the client announces the size); one file, and no reason for more than a few fields.
@notes.post("/<int:id>/image", max_body_size=MAX_IMAGE_UPLOAD, max_form_files=1, max_form_fields=8)
@login_required
async def upload_image(req: Request, id: int) -> Any:
    note = await owned_note(req, id)
    form = await req.form()
    upload = form.get("image")
    if not isinstance(upload, UploadFile) or not upload.filename or upload.size == 0:
        return refuse_upload(req, note, "Choose an image file to attach.")
    kind = image_kind(await upload.read(16))
    if kind is None:
        return refuse_upload(req, note, "Only PNG, JPEG, GIF and WebP images can be attached.")
    media_type, ext = kind
    name = stored_name(upload.filename, ext)
    folder = upload_folder(req)
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    await upload.save(folder / name)
    previous = note.image_file
    note.image_file, note.image_type = name, media_type
    note.image_name = display_name(upload.filename)
    await req.db.commit()
    if previous:
        await remove_image(req, previous)
    flash(req, f"Attached {note.image_name}.", "success")
    return redirect(url_for("notes.show", id=note.id), 303)


@notes.get("/<int:id>/image")
@login_required
async def image(req: Request, id: int) -> FileResponse:
    note = await owned_note(req, id)
    if not (note.image_file and note.image_type):
        abort(404, "This note has no image.")
    path = upload_folder(req) / note.image_file
    headers = [
        # The image is this user's own: no shared cache may keep it.
        ("cache-control", "private, no-cache"),
        # Browsers must take the type we detected, never guess another from the bytes.
        ("x-content-type-options", "nosniff"),
    ]
    # FileResponse looks the file up on disk: in a worker thread, off the event loop.
    return await asyncio.to_thread(
        lambda: FileResponse(
            path,
            headers=headers,
            media_type=note.image_type,
            download_name=note.image_name or note.image_file,
            request=req,
        )
    )
