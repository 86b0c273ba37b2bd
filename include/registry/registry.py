"""The models of a data root: their versions, aliases and alias history (see :mod:`include.registry`).

Every alias move is a compare-and-swap on ``registry/<model>/aliases/<alias>`` (S3 ``If-Match``,
create-only when absent; ``os.replace`` under a lock locally), then one create-only history entry.
Reads only manifests and alias files (JSON and one-line text), never a model.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, TypedDict, overload

from include.errors import NotInRegistryError
from include.registry.names import (
    CHAMPION,
    DEFAULT_MODEL,
    check_alias_name,
    check_model_name,
    check_version_name,
    model_of,
)
from include.storage.layout import LATEST_KEY, MANIFEST_FILE, REGISTRY, version_key
from include.storage.store import AlreadyExists, PreconditionFailed, Store
from include.storage.versions import delete_version, list_versions, read_manifest

log = logging.getLogger(__name__)
SWAP_ATTEMPTS = 50


class AliasMove(TypedDict):
    """One entry of a model's alias history (``registry/<model>/history/<entry>.json``)."""

    model: str
    alias: str
    from_version: str | None  #: what the alias named before (``None``: it was new)
    to_version: str
    at: str  #: ISO time (UTC) of the move
    actor: str  #: who moved it: ``gate`` (a run's quality gate) or a person's or tool's name
    reason: str
    run_id: str | None  #: the DAG run whose gate moved it, when the gate did


@dataclass(frozen=True)
class AliasKept:
    """The alias stayed: it names a version of newer data than the one offered (a gate move)."""

    alias: str
    version: str  #: what it still names
    reason: str


def alias_key(model: str, alias: str) -> str:
    return f"{REGISTRY}/{model}/aliases/{alias}"


def history_prefix(model: str) -> str:
    return f"{REGISTRY}/{model}/history"


class ModelRegistry:
    """Models, versions and aliases of one :class:`~include.storage.store.Store`.

    >>> registry = ModelRegistry(data_store())
    >>> registry.models()                          # ["default", "news-en"]
    >>> registry.resolve("default", alias="champion")   # "20261201T000000Z-1a2b3c4d"
    >>> registry.move_alias("default", "staging", "20261201T000000Z-1a2b3c4d", actor="ana", reason="try it")
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    # --- versions -------------------------------------------------------------------------------
    def manifests(self, model: str | None = None) -> list[dict]:
        """Published version manifests (each plus ``"path"``), oldest folder name (= data time)
        first; of ``model`` only when given. Folders without a readable manifest are skipped."""
        return [m for m in list_versions(self.store) if model is None or model_of(m) == model]

    def models(self) -> list[str]:
        """Every model with a published version or an alias, sorted."""
        named = {model_of(m) for m in self.manifests()}
        named.update(name for name in self.store.children(REGISTRY) if not name.startswith("."))
        return sorted(named)

    def check_model(self, model: str) -> str:
        """``model`` when it exists, else :class:`NotInRegistryError` listing the models."""
        check_model_name(model)
        known = self.models()
        if model not in known:
            raise NotInRegistryError(
                f"no model {model!r} in '{self.store.url}'; models: {', '.join(known) or '(none yet)'}"
            )
        return model

    def manifest(self, model: str, version: str) -> dict:
        """The manifest of ``version`` of ``model``; :class:`NotInRegistryError` listing the model's
        versions when it is not one of them."""
        check_model_name(model)
        check_version_name(version)
        manifest = read_manifest(self.store, version)
        if manifest is None or model_of(manifest) != model:
            names = [m["version"] for m in self.manifests(model)]
            if not names:
                self.check_model(model)
            listed = ", ".join(names[-20:]) + (f" (and {len(names) - 20} older)" if len(names) > 20 else "")
            raise NotInRegistryError(f"model {model!r} has no version {version!r}; its versions: {listed}")
        return manifest

    # --- aliases --------------------------------------------------------------------------------
    def _read_alias(self, model: str, alias: str) -> tuple[str | None, str | None]:
        """``(version, compare-and-swap token)`` of ``model@alias``; ``(None, None)`` when unset.
        ``default@champion`` falls back to the previous layout's ``models/LATEST`` (token ``None``:
        the first move creates the alias file)."""
        found = self.store.read_versioned(alias_key(model, alias))
        if found is not None:
            return found.data.decode("utf-8").strip() or None, found.token
        if model == DEFAULT_MODEL and alias == CHAMPION:
            legacy = self.store.read_versioned(LATEST_KEY)
            if legacy is not None:
                return legacy.data.decode("utf-8").strip() or None, None
        return None, None

    def aliases(self, model: str) -> dict[str, str]:
        """``alias -> version`` of ``model`` (``{}`` when it has none)."""
        check_model_name(model)
        names = set(self.store.children(f"{REGISTRY}/{model}/aliases"))
        if model == DEFAULT_MODEL:
            names.add(CHAMPION)
        found = {}
        for alias in sorted(names):
            version, _ = self._read_alias(model, alias)
            if version:
                found[alias] = version
        return found

    def resolve(self, model: str, *, alias: str | None = None, version: str | None = None) -> str:
        """The version ``model@alias`` names, or ``version`` checked to belong to ``model`` (one of
        the two; ``champion`` when neither). :class:`NotInRegistryError` lists what exists."""
        if version is not None:
            return self.manifest(model, version)["version"]
        alias = check_alias_name(alias or CHAMPION)
        named, _ = self._read_alias(check_model_name(model), alias)
        if named is None:
            aliases = self.aliases(self.check_model(model))
            listed = ", ".join(f"{a} -> {v}" for a, v in aliases.items()) or "(none: no version was promoted yet)"
            raise NotInRegistryError(f"model {model!r} has no alias {alias!r}; its aliases: {listed}")
        return named

    def champion_manifest(self, model: str) -> dict | None:
        """The manifest of the version ``model@champion`` names, or ``None`` before its first promotion."""
        named, _ = self._read_alias(check_model_name(model), CHAMPION)
        return read_manifest(self.store, named) if named else None

    @overload
    def move_alias(
        self,
        model: str,
        alias: str,
        version: str,
        *,
        actor: str,
        reason: str,
        run_id: str | None = None,
        forward_only: Literal[False] = False,
    ) -> AliasMove: ...

    @overload
    def move_alias(
        self,
        model: str,
        alias: str,
        version: str,
        *,
        actor: str,
        reason: str,
        run_id: str | None = None,
        forward_only: bool,
    ) -> AliasMove | AliasKept: ...

    def move_alias(
        self,
        model: str,
        alias: str,
        version: str,
        *,
        actor: str,
        reason: str,
        run_id: str | None = None,
        forward_only: bool = False,
    ) -> AliasMove | AliasKept:
        """Point ``model@alias`` at ``version`` (a published version of ``model``) by
        compare-and-swap, and append the move to the model's history.

        ``forward_only`` (the gate's moves): keep the alias when it names a version of newer data
        and return :class:`AliasKept`. An explicit move (a person's promote, a rollback) may go
        backward in data time. A lost race reads the alias again and decides again.
        """
        check_alias_name(alias)
        mine = self.manifest(model, version)
        for attempt in range(SWAP_ATTEMPTS):
            current, token = self._read_alias(model, alias)
            if current == version:
                return self._record(model, alias, current, version, actor, reason, run_id, moved=False)
            named = read_manifest(self.store, current) if current else None
            if forward_only and current and named and named.get("data_time", "") > mine.get("data_time", ""):
                return AliasKept(
                    alias,
                    current,
                    f"kept {model}@{alias} at {current}: its data ({named['data_time']}) is newer than "
                    f"this version's ({mine['data_time']})",
                )
            try:
                self.store.swap(alias_key(model, alias), f"{version}\n".encode(), token)
            except (PreconditionFailed, AlreadyExists):
                log.info(
                    "%s@%s moved while moving it to %s (attempt %d): reading it again",
                    model,
                    alias,
                    version,
                    attempt + 1,
                )
                time.sleep(0.05)
                continue
            move = self._record(model, alias, current, version, actor, reason, run_id, moved=True)
            if run_id is None:  # a person's move; a run's gate move is mirrored by its mirror_to_mlflow task
                self.mirror_to_mlflow(model)
            return move
        raise PreconditionFailed(
            f"gave up moving '{self.store.key_url(alias_key(model, alias))}' after {SWAP_ATTEMPTS} lost races"
        )

    def mirror_to_mlflow(self, model: str) -> None:
        """With ``MLFLOW_TRACKING_URI`` set, bring MLflow's copy of ``model`` (runs, registered
        versions, aliases) in line with this registry (:func:`include.mlflow_mirror.sync.mirror_model`:
        bounded in time, a warning when MLflow is down, never an error). Without it: nothing."""
        from include.mlflow_mirror.settings import tracking_uri

        if tracking_uri() is None:
            return
        from include.mlflow_mirror.sync import mirror_model

        mirror_model(self.store, model, self.manifests(model), self.aliases(model))

    def _record(self, model, alias, before, after, actor, reason, run_id, *, moved: bool) -> AliasMove:
        move = AliasMove(
            model=model,
            alias=alias,
            from_version=before,
            to_version=after,
            at=datetime.now(UTC).isoformat(timespec="microseconds"),
            actor=actor,
            reason=reason,
            run_id=run_id,
        )
        if moved:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            self.store.put_json(f"{history_prefix(model)}/{stamp}-{secrets.token_hex(4)}.json", move, create_only=True)
            log.info("%s@%s: %s -> %s by %s (%s)", model, alias, before, after, actor, reason)
        return move

    def history(self, model: str, alias: str | None = None) -> list[AliasMove]:
        """Every recorded alias move of ``model`` (of ``alias`` only when given), oldest first."""
        check_model_name(model)
        moves = []
        prefix = history_prefix(model)
        for name in sorted(self.store.children(prefix)):
            if not name.endswith(".json"):
                continue
            try:
                move = self.store.read_json(f"{prefix}/{name}")
            except (FileNotFoundError, ValueError):
                continue
            if alias is None or move.get("alias") == alias:
                moves.append(move)
        return moves

    # --- retention ------------------------------------------------------------------------------
    def prune(self, model: str, keep: int) -> list[str]:
        """Delete ``model``'s oldest versions beyond the newest ``keep`` (by folder name, i.e. data
        time), never one an alias names; ``keep`` 0 keeps everything. Returns the deleted names."""
        if keep <= 0:
            return []
        protected = set(self.aliases(model).values())
        names = [m["version"] for m in self.manifests(model)]
        removed = []
        for name in names[:-keep] if len(names) > keep else []:
            if name not in protected and self.store.exists(f"{version_key(name)}/{MANIFEST_FILE}"):
                delete_version(self.store, name)
                removed.append(name)
        return removed
