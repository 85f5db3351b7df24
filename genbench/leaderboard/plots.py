"""Where a recipe's plot lies beside a table and on the site."""

from __future__ import annotations


def plot_name(recipe_id: str) -> str:
    """The file name of a recipe's plot beside a table or on the site."""
    return recipe_id.replace("/", "--") + ".png"
