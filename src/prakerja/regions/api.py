"""Open region lists for the cascading address pickers."""

from django.http import HttpRequest
from ninja import Router, Schema

from prakerja.regions import selectors

router = Router(tags=["regions"])


class RegionOut(Schema):
    code: str
    name: str
    level: int
    postal_code: str = ""


@router.get("/provinces", response=list[RegionOut], auth=None)
def provinces(request: HttpRequest) -> object:
    """The 38 provinces."""
    return selectors.provinces()


@router.get("/{code}/children", response=list[RegionOut], auth=None)
def children(request: HttpRequest, code: str) -> object:
    """The regencies of a province, districts of a regency or villages of a district."""
    return selectors.children_of(code)
