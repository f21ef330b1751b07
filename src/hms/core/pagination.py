"""Page parameters and the list envelope ``{items, total, page, page_size}``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

T = TypeVar("T")

MAX_PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class PageParams:
    """1-based page number and page size (1..100)."""

    page: int = 1
    page_size: int = 20

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.page - 1) * self.page_size


async def _page_params(
    page: Annotated[int, Query(ge=1, le=1_000_000, description="Page number, from 1")] = 1,
    page_size: Annotated[
        int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page (max 100)")
    ] = None,
    limit: Annotated[
        int | None, Query(ge=1, le=MAX_PAGE_SIZE, description="Alias of page_size")
    ] = None,
) -> PageParams:
    return PageParams(page=page, page_size=page_size or limit or 20)


Pagination = Annotated[PageParams, Depends(_page_params)]


class Page(BaseModel, Generic[T]):
    """A page of results. ``total`` counts every match unless ``total_exact`` is false
    (name searches stop counting at 100 matches and visit lists at 200, because counting
    reads every match: ``total`` is then a lower bound)."""

    items: list[T]
    total: int
    page: int
    page_size: int
    total_exact: bool = True
