"""The catalogue kept in a SQL database, in TileMaker 3.1's schema.

TileMaker 3.1 serves its catalogue from a database when ``TILEMAKER_CONFIG_PATH`` is a
SQLAlchemy URL (``sqlite:///maps.db``, ``postgresql://user@host/db``) and fills it with
``tilemaker-db populate config.json``. The same tables are described here (their names
and columns are the schema's facts), so a database written by TileMaker serves here
unchanged and one written by ``tilemaker-widget db load`` serves in TileMaker.

Reading goes through the configuration parser (`catalogue_from_dict`): a row is read as
the JSON object it was written from, so providers, ranges and grants mean exactly what
they mean in a configuration file, grants included.

Changes made while the server runs (maps added, removed, re-granted) are seen by polling
(`DatabaseCatalogue.changed`): one query per table of the catalogue's small tables' rows
(sources only by count and largest id, as they may be many), compared with the last
poll's; the catalogue is rebuilt only when they differ. Polling, not Postgres'
LISTEN/NOTIFY, because it needs nothing installed in the database (TileMaker's
populated databases have no triggers) and works the same on SQLite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from .config import ConfigError, catalogue_from_dict, catalogue_to_dict
from .model import Catalogue

METADATA = sa.MetaData()


def _named(*columns: sa.Column) -> list[sa.Column]:
    """The columns every node table shares (id, public id, name, description, grant)."""
    return [
        sa.Column("id", sa.Integer, primary_key=True),
        *columns,
        sa.Column("name", sa.String, nullable=False),
        sa.Column("description", sa.String),
        sa.Column("grant", sa.String),
    ]


MAP_GROUPS = sa.Table("map_groups", METADATA, *_named(sa.Column("map_group_id", sa.String, unique=True, nullable=False)))
MAPS = sa.Table(
    "maps",
    METADATA,
    *_named(sa.Column("map_id", sa.String, unique=True, nullable=False)),
    sa.Column("map_group_id", sa.Integer, sa.ForeignKey("map_groups.id", ondelete="CASCADE"), nullable=False),
)
# A band's id is unique only within its map (TileMaker's populate looks it up by both).
BANDS = sa.Table(
    "bands",
    METADATA,
    *_named(sa.Column("band_id", sa.String, nullable=False)),
    sa.Column("map_id", sa.Integer, sa.ForeignKey("maps.id", ondelete="CASCADE"), nullable=False),
)
LAYERS = sa.Table(
    "layers",
    METADATA,
    *_named(sa.Column("layer_id", sa.String, unique=True, nullable=False)),
    sa.Column("band_id", sa.Integer, sa.ForeignKey("bands.id", ondelete="CASCADE"), nullable=False),
    sa.Column("quantity", sa.String),
    sa.Column("units", sa.String),
    sa.Column("number_of_levels", sa.Integer),
    sa.Column("tile_size", sa.Integer),
    sa.Column("vmin", sa.String),  # a number or 'auto', as text
    sa.Column("vmax", sa.String),
    sa.Column("cmap", sa.String),
    sa.Column("provider", sa.JSON, nullable=False),
    sa.Column("bounding_left", sa.Float),
    sa.Column("bounding_right", sa.Float),
    sa.Column("bounding_top", sa.Float),
    sa.Column("bounding_bottom", sa.Float),
)
BOXES = sa.Table(
    "boxes",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("description", sa.String),
    sa.Column("top_left_ra", sa.Float, nullable=False),
    sa.Column("top_left_dec", sa.Float, nullable=False),
    sa.Column("bottom_right_ra", sa.Float, nullable=False),
    sa.Column("bottom_right_dec", sa.Float, nullable=False),
    sa.Column("grant", sa.String),
)
SOURCE_GROUPS = sa.Table(
    "source_groups", METADATA, *_named(sa.Column("source_group_id", sa.String, unique=True, nullable=False))
)
SOURCES = sa.Table(
    "sources",
    METADATA,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String),
    sa.Column("ra", sa.Float, nullable=False),
    sa.Column("dec", sa.Float, nullable=False),
    sa.Column("extra", sa.JSON),
    sa.Column("source_group_id", sa.Integer, sa.ForeignKey("source_groups.id", ondelete="CASCADE"), nullable=False),
)

_SMALL_TABLES = (MAP_GROUPS, MAPS, BANDS, LAYERS, BOXES, SOURCE_GROUPS)


def redacted(url: str) -> str:
    """The URL with its password hidden, for logs and messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url


def _engine(url: str, *, create: bool = False) -> sa.Engine:
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ConfigError(f"{url!r} is not a database URL (sqlite:///file.db, postgresql://user@host/db)") from None
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database or ""
        # SQLite creates a missing file on connect: a typo would serve an empty catalogue.
        if not create and db not in ("", ":memory:") and not db.startswith("file:") and not Path(db).is_file():
            raise ConfigError(f"database {db} does not exist (fill it with `tilemaker-widget db load`)")
    try:
        engine = sa.create_engine(parsed, pool_pre_ping=True)
    except sa.exc.NoSuchModuleError:
        raise ConfigError(
            f"{redacted(url)}: no database kind {parsed.drivername!r} (sqlite:///file.db, postgresql://user@host/db)"
        ) from None
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise ConfigError(f"cannot use database {redacted(url)}: {exc}") from None
    if parsed.get_backend_name() == "sqlite":
        # As TileMaker does: SQLite enforces ON DELETE CASCADE only when asked.
        sa.event.listen(engine, "connect", lambda con, _: con.execute("pragma foreign_keys=ON"))
    return engine


def _node_json(row: Any, table: sa.Table, key: str) -> dict[str, Any]:
    return {key: row[table.c[key]], "name": row[table.c.name], "description": row[table.c.description], "grant": row[table.c.grant]}


class DatabaseCatalogue:
    """A TileMaker-schema database as a source of catalogues.

    Parameters
    ----------
    url
        SQLAlchemy URL. ``postgresql://`` uses psycopg (SQLAlchemy 2.1's default driver).
    base
        Folder that relative FITS filenames resolve against (default: the working
        directory, as in TileMaker, which opens them as given).
    """

    def __init__(self, url: str, base: Path | None = None, *, create: bool = False) -> None:
        self.url = url
        self.base = base or Path.cwd()
        self.engine = _engine(url, create=create)
        self._signature: Any = None

    def __repr__(self) -> str:
        return f"DatabaseCatalogue({redacted(self.url)!r})"

    # -- reading --------------------------------------------------------------
    def _check_tables(self, con: sa.Connection) -> None:
        missing = [t.name for t in _SMALL_TABLES if not sa.inspect(con).has_table(t.name)]
        if missing:
            raise ConfigError(
                f"database {redacted(self.url)} has no table {missing[0]!r} (not a TileMaker "
                "catalogue yet: fill it with `tilemaker-widget db load` or `tilemaker-db populate`)"
            )

    def signature(self) -> tuple:
        """A cheap summary of the contents: equal between polls unless something changed."""
        try:
            with self.engine.connect() as con:
                self._check_tables(con)
                rows = tuple(tuple(map(tuple, con.execute(sa.select(t).order_by(t.c.id)))) for t in _SMALL_TABLES)
                sources = tuple(con.execute(sa.select(sa.func.count(), sa.func.max(SOURCES.c.id))).one())
        except sa.exc.SQLAlchemyError as exc:
            raise ConfigError(f"database {redacted(self.url)}: {_short(exc)}") from None
        return rows + (sources,)

    def changed(self) -> bool:
        """Whether the contents differ from the last `changed` or `read` (True the first time)."""
        sig = self.signature()
        if sig == self._signature:
            return False
        self._signature = sig
        return True

    def to_dict(self) -> dict[str, Any]:
        """The contents as a TileMaker configuration object (``map_groups``, ``source_groups``, ``boxes``)."""
        try:
            with self.engine.connect() as con:
                self._check_tables(con)
                return self._to_dict(con)
        except sa.exc.SQLAlchemyError as exc:
            raise ConfigError(f"database {redacted(self.url)}: {_short(exc)}") from None

    def _to_dict(self, con: sa.Connection) -> dict[str, Any]:
        g, m, b, la = MAP_GROUPS, MAPS, BANDS, LAYERS
        # Joined from the layers up: rows orphaned by a delete without foreign keys
        # (a plain sqlite3 shell) are not served.
        query = (
            sa.select(g, m, b, la)
            .select_from(la.join(b, la.c.band_id == b.c.id).join(m, b.c.map_id == m.c.id).join(g, m.c.map_group_id == g.c.id))
            .order_by(g.c.id, m.c.id, b.c.id, la.c.id)
        )
        groups: dict[int, dict] = {}
        maps: dict[int, dict] = {}
        bands: dict[int, dict] = {}
        for row in con.execute(query).mappings():
            gid, mid, bid = row[g.c.id], row[m.c.id], row[b.c.id]
            if gid not in groups:
                groups[gid] = {**_node_json(row, g, "map_group_id"), "maps": []}
            if mid not in maps:
                maps[mid] = {**_node_json(row, m, "map_id"), "bands": []}
                groups[gid]["maps"].append(maps[mid])
            if bid not in bands:
                bands[bid] = {**_node_json(row, b, "band_id"), "layers": []}
                maps[mid]["bands"].append(bands[bid])
            layer = {**_node_json(row, la, "layer_id"), "provider": row[la.c.provider]}
            for key in ("quantity", "units", "vmin", "vmax", "cmap"):
                layer[key] = row[la.c[key]]
            bands[bid]["layers"].append(layer)
        source_groups: dict[int, dict] = {}
        for row in con.execute(sa.select(SOURCE_GROUPS).order_by(SOURCE_GROUPS.c.id)).mappings():
            source_groups[row["id"]] = {
                "source_group_id": row["source_group_id"],
                "name": row["name"],
                "description": row["description"],
                "grant": row["grant"],
                "sources": [],
            }
        for row in con.execute(sa.select(SOURCES).order_by(SOURCES.c.id)).mappings():
            if row["source_group_id"] in source_groups:
                source_groups[row["source_group_id"]]["sources"].append(
                    {"name": row["name"], "ra": row["ra"], "dec": row["dec"], "extra": row["extra"]}
                )
        boxes = [
            {k: row[k] for k in ("name", "description", "top_left_ra", "top_left_dec", "bottom_right_ra", "bottom_right_dec", "grant")}
            for row in con.execute(sa.select(BOXES).order_by(BOXES.c.id)).mappings()
        ]
        return {"map_groups": list(groups.values()), "source_groups": list(source_groups.values()), "boxes": boxes}

    def read(self) -> Catalogue:
        """The catalogue the database holds now (and remember its signature for `changed`)."""
        self._signature = self.signature()
        data = self.to_dict()
        try:
            return catalogue_from_dict(data, self.base)
        except ConfigError as exc:
            raise ConfigError(f"database {redacted(self.url)}: {exc}") from None

    # -- writing --------------------------------------------------------------
    def load(self, catalogue: Catalogue) -> dict[str, int]:
        """Write a catalogue in: create the tables if needed, then insert or update by id.

        Nodes are matched by their ids (a band by its id within its map, a box by name,
        as TileMaker's ``populate`` does); a source group's sources are replaced.
        Returns how many rows of each kind were written.
        """
        data = catalogue_to_dict(catalogue)
        counts = {"map_groups": 0, "maps": 0, "bands": 0, "layers": 0, "source_groups": 0, "sources": 0, "boxes": 0}
        try:
            METADATA.create_all(self.engine)
            with self.engine.begin() as con:
                for g in data["map_groups"]:
                    gpk = _upsert(con, MAP_GROUPS, {"map_group_id": g["map_group_id"]}, _node_row(g))
                    counts["map_groups"] += 1
                    for m in g["maps"]:
                        mpk = _upsert(con, MAPS, {"map_id": m["map_id"]}, {**_node_row(m), "map_group_id": gpk})
                        counts["maps"] += 1
                        for b in m["bands"]:
                            bpk = _upsert(con, BANDS, {"band_id": b["band_id"], "map_id": mpk}, _node_row(b))
                            counts["bands"] += 1
                            for x in b["layers"]:
                                values = {
                                    **_node_row(x),
                                    "band_id": bpk,
                                    "provider": x["provider"],
                                    **{k: None if x[k] is None else str(x[k]) for k in ("vmin", "vmax")},
                                    **{k: x[k] for k in ("quantity", "units", "cmap")},
                                }
                                _upsert(con, LAYERS, {"layer_id": x["layer_id"]}, values)
                                counts["layers"] += 1
                for sg in data["source_groups"]:
                    spk = _upsert(con, SOURCE_GROUPS, {"source_group_id": sg["source_group_id"]}, _node_row(sg))
                    con.execute(sa.delete(SOURCES).where(SOURCES.c.source_group_id == spk))
                    rows = [{**s, "source_group_id": spk} for s in sg["sources"]]
                    if rows:
                        con.execute(sa.insert(SOURCES), rows)
                    counts["source_groups"] += 1
                    counts["sources"] += len(rows)
                for box in data["boxes"]:
                    values = {k: box[k] for k in ("description", "top_left_ra", "top_left_dec", "bottom_right_ra", "bottom_right_dec", "grant")}
                    _upsert(con, BOXES, {"name": box["name"]}, values)
                    counts["boxes"] += 1
        except sa.exc.SQLAlchemyError as exc:
            raise ConfigError(f"database {redacted(self.url)}: {_short(exc)}") from None
        return counts

    def delete(self, kind: str, node_id: str) -> bool:
        """Remove a map group, map or layer (and what lies below it) by its id."""
        table, key = {"group": (MAP_GROUPS, "map_group_id"), "map": (MAPS, "map_id"), "layer": (LAYERS, "layer_id")}[kind]
        try:
            with self.engine.begin() as con:
                self._check_tables(con)
                return con.execute(sa.delete(table).where(table.c[key] == node_id)).rowcount > 0
        except sa.exc.SQLAlchemyError as exc:
            raise ConfigError(f"database {redacted(self.url)}: {_short(exc)}") from None


def _node_row(node: dict[str, Any]) -> dict[str, Any]:
    return {"name": node.get("name") or "", "description": node.get("description"), "grant": node.get("grant")}


def _upsert(con: sa.Connection, table: sa.Table, key: dict[str, Any], values: dict[str, Any]) -> int:
    """Update the row matching ``key`` or insert it; its primary key."""
    where = sa.and_(*(table.c[k] == v for k, v in key.items()))
    pk = con.execute(sa.select(table.c.id).where(where)).scalar()
    if pk is None:
        return con.execute(sa.insert(table).values(**key, **values)).inserted_primary_key[0]
    con.execute(sa.update(table).where(table.c.id == pk).values(**values))
    return pk


def _short(exc: BaseException) -> str:
    """SQLAlchemy's error without its statement and parameters (they can be long)."""
    orig = getattr(exc, "orig", None)
    return str(orig if orig is not None else exc).strip().splitlines()[0]
