"""The explorer page's figures as Plotly figures, for notebooks and scripts (:mod:`server.client`).

Each function mirrors one plot of ``frontend/js/plots/``: the same traces, colour scales, axis
titles and orientation (WᵀW and the norms with feature 0 at the top). Only plotly.graph_objects
and numpy: no server code, no torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import plotly.graph_objects as go

# ColorBrewer RdBu reversed, white at 0 (frontend/js/plots/gram.js DIVERGING).
DIVERGING: tuple[tuple[float, str], ...] = (
    (0.0, "#053061"),
    (0.1, "#2166ac"),
    (0.2, "#4393c3"),
    (0.3, "#92c5de"),
    (0.4, "#d1e5f0"),
    (0.5, "#f7f7f7"),
    (0.6, "#fddbc7"),
    (0.7, "#f4a582"),
    (0.8, "#d6604d"),
    (0.9, "#b2182b"),
    (1.0, "#67001f"),
)
# Black (orthogonal) to yellow (superposed), for Σ_{j≠i}(Ŵᵢ·Wⱼ)² in [0, 1] (plots/norms.js).
SUPERPOSITION_SCALE: tuple[tuple[float, str], ...] = (
    (0.0, "#000004"),
    (0.25, "#3b0f70"),
    (0.5, "#8c2981"),
    (0.7, "#de4968"),
    (0.85, "#fe9f6d"),
    (1.0, "#fcfd8f"),
)
SUPERPOSITION_HTML = "Σ<sub>j≠i</sub>(Ŵ<sub>i</sub>·W<sub>j</sub>)²"
NEGATIVE_BIAS, POSITIVE_BIAS = "#4393c3", "#d6604d"  # plots/bias.js
LOSS_COLOUR = "#2f6db5"
# The closed-form losses' labels and colours, in legend order (plots/loss.js).
THEORY_NAMES: dict[str, str] = {
    "zero_output": "x′ = 0: zero output",
    "linear_optimum": "F3: best linear, no superposition",
    "power_unsuperposed": "F15: best without superposition",
    "uniform_dedicated": "F11: m dedicated",
    "uniform_antipodal_pairs": "F11: m antipodal pairs",
}
THEORY_COLOURS: dict[str, str] = {
    "zero_output": "#a0a7b0",
    "linear_optimum": "#6b7480",
    "power_unsuperposed": "#8a5cc2",
    "uniform_dedicated": "#3c8d5a",
    "uniform_antipodal_pairs": "#c4453c",
}
OTHER_COLOURS = ("#b07a1f", "#2a9d9d", "#d05a9e")
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"


def colour_at(scale: Sequence[tuple[float, str]], t: float) -> str:
    """The colour of ``t`` (clamped to [0, 1]; NaN reads 0) on a scale of (position, "#rrggbb")
    stops sorted by position, as "rgb(r,g,b)" (plots/common.js ``colourAt``)."""
    x = min(max(float(t), 0.0), 1.0) if np.isfinite(t) else 0.0
    i = 1
    while i < len(scale) - 1 and scale[i][0] < x:
        i += 1
    (p0, c0), (p1, c1) = scale[i - 1], scale[i]
    f = min(max((x - p0) / (p1 - p0), 0.0), 1.0) if p1 > p0 else 0.0
    rgb = []
    for k in (1, 3, 5):
        a, b = int(c0[k : k + 2], 16), int(c1[k : k + 2], 16)
        rgb.append(int(a + (b - a) * f + 0.5))  # Math.round's half up, as the page
    return f"rgb({','.join(map(str, rgb))})"


def _axis(title: str, **extra: object) -> dict[str, object]:
    return {
        "title": {"text": title, "standoff": 6},
        "gridcolor": "#eceff3",
        "zerolinecolor": "#c7ccd3",
        "automargin": True,
        **extra,
    }


def _index_ticks(n: int) -> dict[str, object]:
    return {"dtick": 1, "tick0": 0} if n <= 12 else {}


def _layout(title: str, **extra: object) -> go.Layout:
    return go.Layout(
        title={"text": title, "x": 0.02, "xanchor": "left"},
        margin={"l": 56, "r": 16, "t": 56, "b": 48},
        font={"family": FONT, "size": 12},
        plot_bgcolor="#ffffff",
        showlegend=False,
        **extra,
    )


def gram_figure(gram: np.ndarray, title: str) -> go.Figure:
    """WᵀW as a heatmap, colours symmetric about 0 (±max |entry|), feature 0 at the top.

    Args:
        gram: (n_features, n_features).
        title: the figure's title.
    """
    gram = np.asarray(gram, dtype=float)
    n = len(gram)
    zmax = max(float(np.abs(gram).max(initial=0.0)), 1e-6)
    heatmap = go.Heatmap(
        z=gram,
        x=list(range(n)),
        y=list(range(n)),
        zmin=-zmax,
        zmax=zmax,
        zmid=0,
        colorscale=[list(stop) for stop in DIVERGING],
        xgap=1 if n <= 32 else 0,
        ygap=1 if n <= 32 else 0,
        colorbar={"thickness": 12, "len": 0.9, "title": {"text": "W<sub>i</sub>·W<sub>j</sub>"}},
        hovertemplate="(WᵀW)<sub>%{y},%{x}</sub> = %{z:.3f}<extra></extra>",
    )
    layout = _layout(
        title,
        xaxis=_axis(
            "feature j", constrain="domain", showgrid=False, zeroline=False, **_index_ticks(n)
        ),
        yaxis=_axis(
            "feature i",
            autorange="reversed",
            scaleanchor="x",
            scaleratio=1,
            constrain="domain",
            showgrid=False,
            zeroline=False,
            **_index_ticks(n),
        ),
    )
    return go.Figure([heatmap], layout)


def norms_figure(
    feature_norms: np.ndarray, superposition: np.ndarray, dimensionality: np.ndarray, title: str
) -> go.Figure:
    """‖Wᵢ‖ as horizontal bars coloured by superposition (black 0 → yellow ≥ 1), with the colour
    key, feature 0 at the top.

    Args:
        feature_norms, superposition, dimensionality: (n_features,) each.
        title: the figure's title.
    """
    norms = np.asarray(feature_norms, dtype=float)
    sup = np.asarray(superposition, dtype=float)
    dims = np.asarray(dimensionality, dtype=float)
    n = len(norms)
    bars = go.Bar(
        orientation="h",
        x=norms,
        y=list(range(n)),
        customdata=np.stack([sup, dims], axis=1),
        marker={
            "color": [colour_at(SUPERPOSITION_SCALE, v) for v in sup],
            "line": {"color": "#9aa0a6", "width": 0.5 if n <= 32 else 0},
        },
        hovertemplate="feature %{y}<br>‖W<sub>i</sub>‖ = %{x:.3f}"
        "<br>Σ<sub>j≠i</sub>(Ŵ<sub>i</sub>·W<sub>j</sub>)² = %{customdata[0]:.3f}"
        "<br>D<sub>i</sub> = %{customdata[1]:.3f}<extra></extra>",
    )
    key = go.Scatter(
        mode="markers",
        x=[None],
        y=[None],
        hoverinfo="skip",
        marker={
            "color": [0, 1],
            "cmin": 0,
            "cmax": 1,
            "colorscale": [list(stop) for stop in SUPERPOSITION_SCALE],
            "showscale": True,
            "colorbar": {
                "thickness": 12,
                "len": 0.9,
                "title": {"text": f"colour = superposition<br>{SUPERPOSITION_HTML}"},
            },
        },
    )
    layout = _layout(
        title,
        bargap=0.2 if n <= 32 else 0,
        xaxis=_axis("‖W<sub>i</sub>‖ (feature norm)", rangemode="tozero"),
        yaxis=_axis("feature i", autorange="reversed", **_index_ticks(n)),
    )
    return go.Figure([bars, key], layout)


def directions_figure(W: np.ndarray, importance: np.ndarray, title: str) -> go.Figure:
    """Each feature's direction W[:, i] as an arrow in the hidden plane, heads coloured by
    importance (dark = important), over the dotted unit circle.

    Args:
        W: (2, n_features).
        importance: (n_features,).
        title: the figure's title.

    Raises:
        ValueError: W does not have 2 rows (the hidden space is not a plane).
    """
    W = np.asarray(W, dtype=float)
    if W.ndim != 2 or W.shape[0] != 2:
        raise ValueError(
            f"the feature directions are drawn for m = 2 hidden dimensions; W has shape {W.shape}"
        )
    importance = np.asarray(importance, dtype=float)
    wx, wy = W
    n = len(wx)
    norms = np.hypot(wx, wy)
    r = max(float(norms.max(initial=0.0)), 1.0) * 1.2
    x: list[float | None] = []
    y: list[float | None] = []
    size, colour, custom = [], [], []
    for i in range(n):
        x += [0.0, float(wx[i]), None]
        y += [0.0, float(wy[i]), None]
        size += [0, 11 if norms[i] > 1e-3 else 0, 0]
        colour += [float(importance[i])] * 3
        custom += [[i, float(norms[i])]] * 3
    arrows = go.Scatter(
        mode="lines+markers",
        x=x,
        y=y,
        customdata=custom,
        line={"color": "#5f6368", "width": 1.5},
        marker={
            "symbol": "arrow",
            "angleref": "previous",
            "size": size,
            "color": colour,
            "cmin": 0,
            "cmax": max(float(importance.max(initial=0.0)), 1e-6),
            "colorscale": "Viridis",
            "reversescale": True,
            "line": {"width": 0},
        },
        hovertemplate="feature %{customdata[0]}<br>W[:, i] = (%{x:.3f}, %{y:.3f})"
        "<br>‖W<sub>i</sub>‖ = %{customdata[1]:.3f}<extra></extra>",
    )
    push = 1 + 0.12 * r / np.maximum(norms, 1e-3)
    labels = go.Scatter(
        mode="text",
        x=wx * push,
        y=wy * push,
        text=[str(i) if n <= 24 else "" for i in range(n)],
        textfont={"size": 11, "color": "#3c4043"},
        hoverinfo="skip",
    )
    circle = {
        "type": "circle",
        "xref": "x",
        "yref": "y",
        "x0": -1,
        "y0": -1,
        "x1": 1,
        "y1": 1,
        "line": {"color": "#c7ccd3", "width": 1, "dash": "dot"},
        "layer": "below",
    }
    layout = _layout(
        title,
        xaxis=_axis("hidden dim 0", range=[-r, r], zeroline=True),
        yaxis=_axis("hidden dim 1", range=[-r, r], scaleanchor="x", scaleratio=1, zeroline=True),
        shapes=[circle],
    )
    return go.Figure([arrows, labels], layout)


def bias_figure(b: np.ndarray, title: str) -> go.Figure:
    """The bias bᵢ of every feature as bars: blue below 0, red above.

    Args:
        b: (n_features,).
        title: the figure's title.
    """
    b = np.asarray(b, dtype=float)
    n = len(b)
    bars = go.Bar(
        x=list(range(n)),
        y=b,
        marker={"color": [NEGATIVE_BIAS if v < 0 else POSITIVE_BIAS for v in b]},
        hovertemplate="b<sub>%{x}</sub> = %{y:.4f}<extra></extra>",
    )
    layout = _layout(
        title,
        bargap=0.2 if n <= 32 else 0,
        xaxis=_axis("feature i", **_index_ticks(n)),
        yaxis=_axis("bias b<sub>i</sub>", zeroline=True),
    )
    return go.Figure([bars], layout)


def loss_figure(
    steps: np.ndarray, losses: np.ndarray, theory: Mapping[str, float], title: str
) -> go.Figure:
    """The training loss against the step on a log axis, with the closed-form losses as
    horizontal lines (dotted: the zero output's; dashed: the others). Non-positive losses are
    left out (log axis).

    Args:
        steps: (k,) the steps of the loss history.
        losses: (k,) one instance's training-batch loss at those steps.
        theory: the instance's ``theory_loss`` (name → L).
        title: the figure's title.
    """
    steps = np.asarray(steps, dtype=float)
    losses = np.asarray(losses, dtype=float)
    keep = np.isfinite(losses) & (losses > 0)
    x, y = steps[keep], losses[keep]
    curve = go.Scatter(
        mode="lines" if len(x) > 1 else "markers",
        x=x,
        y=y,
        name="trained",
        showlegend=False,
        line={"color": LOSS_COLOUR, "width": 1.5},
        hovertemplate="step %{x}<br>L = %{y:.4g}<extra></extra>",
    )
    span = [min(0.0, float(x[0])), float(x[-1])] if len(x) else [0.0, 1.0]
    order = list(THEORY_NAMES)
    lines = sorted(
        (
            (name, float(value))
            for name, value in theory.items()
            if np.isfinite(value) and value > 0
        ),
        key=lambda item: order.index(item[0]) if item[0] in order else len(order),
    )
    traces = [curve]
    for i, (name, value) in enumerate(lines):
        label = THEORY_NAMES.get(name, name.replace("_", " "))
        traces.append(
            go.Scatter(
                mode="lines",
                x=span,
                y=[value, value],
                name=label,
                line={
                    "color": THEORY_COLOURS.get(name, OTHER_COLOURS[i % len(OTHER_COLOURS)]),
                    "width": 1.2,
                    "dash": "dot" if name == "zero_output" else "dash",
                },
                hovertemplate=f"{label}<br>L = %{{y:.4g}}<extra></extra>",
            )
        )
    layout = _layout(
        title,
        xaxis=_axis("step", rangemode="tozero"),
        yaxis=_axis("loss L", type="log", dtick="D2", tickformat=".2~g"),
    )
    layout.showlegend = bool(lines)
    layout.legend = {"orientation": "h", "y": -0.3, "font": {"size": 10.5}}
    return go.Figure(traces, layout)
