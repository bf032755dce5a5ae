"""Standard descriptions of the tiles for other clients: TileJSON, OGC TileMatrixSet, WMTS.

GIS-style clients (QGIS, OpenLayers, OWSLib, morecantile/TiTiler tooling) know these
documents, not our layer descriptions. All three describe the same full-sky grid
(engine/geometry.py `TileGrid`): level z has 2^(z+1) × 2^z tiles of ``tile_size``
pixels over RA −180°…180° (as longitude, increasing with the column) and Dec −90°…90°.

The coordinates are declared as OGC CRS84 (longitude = RA wrapped into −180°…180°,
latitude = Dec, in degrees): no registry has a celestial CRS that these clients read,
and the equirectangular plate carrée of the sky is exactly CRS84's geometry. Images are
drawn as a map of the Earth is, RA increasing to the right (east to the left, as the sky
is seen, is the viewer's ``flip``).

OGC documents count tile rows from the north (``topLeft``, WMTS's only corner), while
TileMaker's tile URLs count them from the south; the `ogc_tile_path` route takes
northern rows, so both documents point at one URL form. Pure functions of layer
descriptions (describe.py): no HTTP here.
"""

from __future__ import annotations

import math
import re
from typing import Any
from xml.sax.saxutils import escape, quoteattr

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
WGS84_SEMI_MAJOR = 6378137.0
METRES_PER_DEGREE = 2 * math.pi * WGS84_SEMI_MAJOR / 360.0
"""CRS84's metres per degree, which the OGC standards use to turn a cell size into a scale."""
STANDARD_PIXEL = 0.00028
"""The OGC's standardized rendering pixel, metres (WMTS 1.0 §6.1)."""
IMAGE_FORMATS = {"png": "image/png", "webp": "image/webp", "jpg": "image/jpeg"}
_TMS_ID = re.compile(r"car-(\d{1,4})-(\d{1,2})")


def tms_id(tile_size: int, native_level: int) -> str:
    """The identifier of the tile matrix set of layers with this grid."""
    return f"car-{tile_size}-{native_level}"


def parse_tms_id(identifier: str) -> tuple[int, int] | None:
    """(tile size, native level) of a `tms_id`, or None if it is not one."""
    m = _TMS_ID.fullmatch(identifier)
    return (int(m.group(1)), int(m.group(2))) if m else None


def grid_of(desc: dict[str, Any]) -> tuple[int, int] | None:
    """A described layer's (tile size, native level), or None if it cannot be read."""
    if desc.get("error") or "tile_size" not in desc:
        return None
    return int(desc["tile_size"]), int(desc["native_level"])


def cell_size(tile_size: int, z: int) -> float:
    """Degrees per tile pixel at level z."""
    return 180.0 / (tile_size * 2**z)


def tile_matrix_set(tile_size: int, native_level: int) -> dict[str, Any]:
    """An OGC Two Dimensional Tile Matrix Set (2.0, JSON encoding) of the grid, levels 0…native."""
    matrices = []
    for z in range(native_level + 1):
        cs = cell_size(tile_size, z)
        matrices.append(
            {
                "id": str(z),
                "scaleDenominator": cs * METRES_PER_DEGREE / STANDARD_PIXEL,
                "cellSize": cs,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-180.0, 90.0],
                "tileWidth": tile_size,
                "tileHeight": tile_size,
                "matrixWidth": 2 ** (z + 1),
                "matrixHeight": 2**z,
            }
        )
    return {
        "id": tms_id(tile_size, native_level),
        "title": f"Full-sky CAR grid, {tile_size}-pixel tiles, levels 0–{native_level}",
        "description": "RA as longitude (−180°…180°, increasing with the column), Dec as "
        "latitude; level z has 2^(z+1) × 2^z tiles (tilemaker-widget's grid, TileMaker's).",
        "crs": CRS84,
        "orderedAxes": ["Lon", "Lat"],
        "boundingBox": {"lowerLeft": [-180.0, -90.0], "upperRight": [180.0, 90.0], "crs": CRS84},
        "tileMatrices": matrices,
    }


def wgs84_bounds(desc: dict[str, Any]) -> list[float]:
    """[west, south, east, north] of a layer; the whole RA range when it crosses RA 180°."""
    west, east = desc.get("bounding_left", -180.0), desc.get("bounding_right", 180.0)
    south, north = desc.get("bounding_bottom", -90.0), desc.get("bounding_top", 90.0)
    if west >= east:
        west, east = -180.0, 180.0
    return [float(west), float(south), float(east), float(north)]


def ogc_tile_path(layer_id: str, tms: str, z: str, row: str, col: str, ext: str) -> str:
    """The API path (below ``tilemaker/``) of a tile addressed with rows from the north."""
    return f"ogc/{layer_id}/{tms}/{z}/{row}/{col}.{ext}"


def tilejson(desc: dict[str, Any], root: str, query: str = "") -> dict[str, Any]:
    """TileJSON 3.0.0 of one layer: PNG tiles on TileMaker's URLs (``scheme: tms``, rows from the south).

    ``query`` (``cmap=…&vmin=…``) is appended to the tile URL; extra keys
    (``tilematrixset``, ``tile_size``) say which grid the tiles are on, since TileJSON
    assumes Web Mercator unless told.
    """
    tile_size, level = grid_of(desc) or (256, 0)
    west, south, east, north = wgs84_bounds(desc)
    suffix = f"?{query}" if query else ""
    lid = desc["layer_id"]
    return {
        "tilejson": "3.0.0",
        "name": desc.get("name") or lid,
        "description": desc.get("description") or "",
        "version": "1.0.0",
        "attribution": " / ".join(x for x in (desc.get("group"), desc.get("map"), desc.get("band")) if x),
        "scheme": "tms",
        "tiles": [f"{root}layers/{lid}/{{z}}/{{y}}/{{x}}/tile.png{suffix}"],
        "minzoom": 0,
        "maxzoom": level,
        "bounds": [west, south, east, north],
        "center": [(west + east) / 2.0, (south + north) / 2.0, min(level, 1)],
        "tile_size": tile_size,
        "tilematrixset": f"{root}tileMatrixSets/{tms_id(tile_size, level)}",
        "crs": CRS84,
    }


def _title(desc: dict[str, Any]) -> str:
    return " / ".join(x for x in (desc.get("group"), desc.get("map"), desc.get("band"), desc.get("name")) if x)


def wmts_capabilities(descs: list[dict[str, Any]], root: str) -> str:
    """A WMTS 1.0.0 capabilities document (KVP and RESTful) of the readable layers."""
    layers = [d for d in descs if grid_of(d) is not None]
    grids = sorted({grid_of(d) for d in layers})  # type: ignore[type-var]
    kvp = escape(f"{root}wmts?")
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<Capabilities xmlns="http://www.opengis.net/wmts/1.0" xmlns:ows="http://www.opengis.net/ows/1.1" '
        'xmlns:xlink="http://www.w3.org/1999/xlink" version="1.0.0">',
        "<ows:ServiceIdentification><ows:Title>tilemaker-widget sky maps</ows:Title>"
        "<ows:ServiceType>OGC WMTS</ows:ServiceType><ows:ServiceTypeVersion>1.0.0</ows:ServiceTypeVersion>"
        "</ows:ServiceIdentification>",
        "<ows:OperationsMetadata>",
    ]
    for op in ("GetCapabilities", "GetTile"):
        out.append(
            f'<ows:Operation name="{op}"><ows:DCP><ows:HTTP><ows:Get xlink:href="{kvp}">'
            "<ows:Constraint name=\"GetEncoding\"><ows:AllowedValues><ows:Value>KVP</ows:Value>"
            "</ows:AllowedValues></ows:Constraint></ows:Get></ows:HTTP></ows:DCP></ows:Operation>"
        )
    out.append("</ows:OperationsMetadata><Contents>")
    for d in layers:
        tile_size, level = grid_of(d)  # type: ignore[misc]
        west, south, east, north = wgs84_bounds(d)
        lid = d["layer_id"]
        out += [
            "<Layer>",
            f"<ows:Title>{escape(_title(d))}</ows:Title>",
            f"<ows:Abstract>{escape(d.get('description') or '')}</ows:Abstract>",
            f"<ows:WGS84BoundingBox><ows:LowerCorner>{west} {south}</ows:LowerCorner>"
            f"<ows:UpperCorner>{east} {north}</ows:UpperCorner></ows:WGS84BoundingBox>",
            f"<ows:Identifier>{escape(lid)}</ows:Identifier>",
            '<Style isDefault="true"><ows:Identifier>default</ows:Identifier></Style>',
            *(f"<Format>{mime}</Format>" for mime in IMAGE_FORMATS.values()),
            f"<TileMatrixSetLink><TileMatrixSet>{tms_id(tile_size, level)}</TileMatrixSet></TileMatrixSetLink>",
        ]
        for ext, mime in IMAGE_FORMATS.items():
            template = root + ogc_tile_path(lid, "{TileMatrixSet}", "{TileMatrix}", "{TileRow}", "{TileCol}", ext)
            out.append(f'<ResourceURL format="{mime}" resourceType="tile" template={quoteattr(template)}/>')
        out.append("</Layer>")
    for tile_size, level in grids:
        tms = tile_matrix_set(tile_size, level)
        out += [
            "<TileMatrixSet>",
            f"<ows:Identifier>{tms['id']}</ows:Identifier>",
            "<ows:SupportedCRS>urn:ogc:def:crs:OGC:1.3:CRS84</ows:SupportedCRS>",
        ]
        for m in tms["tileMatrices"]:
            out.append(
                f"<TileMatrix><ows:Identifier>{m['id']}</ows:Identifier>"
                f"<ScaleDenominator>{m['scaleDenominator']!r}</ScaleDenominator>"
                "<TopLeftCorner>-180.0 90.0</TopLeftCorner>"
                f"<TileWidth>{tile_size}</TileWidth><TileHeight>{tile_size}</TileHeight>"
                f"<MatrixWidth>{m['matrixWidth']}</MatrixWidth><MatrixHeight>{m['matrixHeight']}</MatrixHeight>"
                "</TileMatrix>"
            )
        out.append("</TileMatrixSet>")
    out.append("</Contents>")
    out.append(
        f'<ServiceMetadataURL xlink:href="{escape(root)}wmts/1.0.0/WMTSCapabilities.xml"/>'
    )
    out.append("</Capabilities>")
    return "\n".join(out)
