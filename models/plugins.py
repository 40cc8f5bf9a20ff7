"""Plug-ins: attentions and mixers registered by packages outside this one, found the same way in every process.

Usage:
    from models.plugins import load_plugins
    load_plugins(["my_package.attention"])   # -> the modules loaded: entry points, $LINREC_BENCH_PLUGINS, these

A plug-in is a module that calls ``models.attention.register_function`` / ``register_module``,
``models.mixers.register_mixer`` or ``models.backbones.register_backbone`` when imported. It is found three ways:
- an entry point in the group ``linrec_bench.plugins`` that an installed package declares (its value a module, or
  ``module:function`` for a function called once to register);
- ``--plugin package.module`` on any ``python -m bench`` command;
- the environment variable ``LINREC_BENCH_PLUGINS`` (module names, comma-separated). ``load_plugins`` writes every
  module it loaded into it, so each child process the harness starts (the memory pass, --isolate, pool workers,
  submitit jobs) loads the same plug-ins and runs a plug-in variant as it runs a built-in one.
A variant registered from outside this package has its contract checked as it registers (models/attention/check.py,
models/mixers/check.py): a false claim is refused in one line.
"""
from __future__ import annotations

import importlib
import os
from importlib.metadata import entry_points

ENTRY_POINT_GROUP = "linrec_bench.plugins"
PLUGINS_VARIABLE = "LINREC_BENCH_PLUGINS"

_LOADED: list[str] = []  # modules and entry points loaded in this process, in order


class PluginError(ValueError):
    """A plug-in that cannot be loaded (no such module, an import that fails): one line naming it."""


def modules_from_environment(environ=os.environ) -> list[str]:
    """Usage: modules_from_environment() -> ["pkg.a", "pkg.b"] from LINREC_BENCH_PLUGINS="pkg.a,pkg.b"."""
    return [name.strip() for name in environ.get(PLUGINS_VARIABLE, "").split(",") if name.strip()]


def import_plugin(name: str, how: str) -> None:
    """Usage: import_plugin("pkg.module", "--plugin"): import it once; any failure is one PluginError line."""
    if name in _LOADED:
        return
    try:
        importlib.import_module(name)
    except ModuleNotFoundError as err:
        raise PluginError(f"plug-in {name!r} ({how}): no module named {err.name!r}; is its package installed "
                          f"or on PYTHONPATH?") from None
    except ValueError as err:  # a registration refused (a false claim, a name taken): its own line
        raise PluginError(f"plug-in {name!r} ({how}): {err}") from None
    except Exception as err:  # noqa: BLE001  (any error inside someone else's module becomes one line)
        raise PluginError(f"plug-in {name!r} ({how}) failed to import: {type(err).__name__}: {err}") from None
    _LOADED.append(name)


def load_entry_points() -> None:
    """Usage: load_entry_points(): every installed package's ``linrec_bench.plugins`` entry point, once each."""
    for point in entry_points(group=ENTRY_POINT_GROUP):
        key = f"entry point {point.name} = {point.value}"
        if key in _LOADED:
            continue
        try:
            loaded = point.load()
            if callable(loaded):
                loaded()
        except ValueError as err:
            raise PluginError(f"plug-in {key}: {err}") from None
        except Exception as err:  # noqa: BLE001
            raise PluginError(f"plug-in {key} failed to load: {type(err).__name__}: {err}") from None
        _LOADED.append(key)


def loaded_plugins() -> list[str]:
    """Usage: loaded_plugins() -> the plug-in modules and entry points loaded in this process (env.json keeps it)."""
    return list(_LOADED)


def load_plugins(modules=()) -> list[str]:
    """Usage: see module docstring. Loading twice does nothing the second time; the variable then names every
    module given here or before, for the processes this one starts."""
    load_entry_points()
    wanted = list(dict.fromkeys([*modules_from_environment(), *modules]))
    for name in wanted:
        import_plugin(name, "--plugin" if name in modules else PLUGINS_VARIABLE)
    if wanted:
        os.environ[PLUGINS_VARIABLE] = ",".join(wanted)
    return list(_LOADED)
