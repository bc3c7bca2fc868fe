"""Every sentence of a worked solution, in English and Chinese: one place for prose.

>>> phrase("step", "zh", n=1, v="a_{2}")
'第 1 步：损失对 $a_{2}$ 的梯度'
"""
from __future__ import annotations

from ..errors import SymbackpropError

PHRASES: dict[str, dict[str, str]] = {
    "title": {"en": "Backpropagation, step by step", "zh": "反向传播：逐步推导"},
    "network": {"en": "The network", "zh": "网络"},
    "network_intro": {
        "en": "The forward pass, one named step per line:",
        "zh": "前向传播，每行一个有名字的计算步骤：",
    },
    "params": {"en": "Trainable parameters: {names}.", "zh": "可训练参数：{names}。"},
    "inputs": {"en": "Constant inputs and targets: {names}.", "zh": "常量输入与目标：{names}。"},
    "given": {"en": "Given values: {values}.", "zh": "已知数值：{values}。"},
    "graph": {"en": "Computational graph", "zh": "计算图"},
    "graph_intro": {
        "en": r"Figure~\ref{{fig:graph}} draws the forward pass as a computational graph: the "
              "leaves (parameters and constants) first, then each operation, drawn as a small "
              "circle, making the named value in the box beside it; arrows point in the forward "
              "direction.",
        "zh": r"图~\ref{{fig:graph}} 把前向传播画成计算图：先是叶子节点（参数与常量），然后每个运算"
              "（小圆圈）得到旁边方框中有名字的值；箭头指向前向计算的方向。",
    },
    "graph_values": {
        "en": r"Each box shows its value from the forward pass and, in red, its gradient "
              r"$\partial {L}/\partial v$ from the backward pass below.",
        "zh": r"每个方框标出前向传播得到的数值，红色数字是下文反向传播求出的梯度 $\partial {L}/\partial v$。",
    },
    "graph_caption": {
        "en": "The computational graph. Blue: trainable parameters; grey: constant inputs; "
              "circles: operations.",
        "zh": "计算图。蓝色：可训练参数；灰色：常量输入；圆圈：运算。",
    },
    "graph_caption_values": {
        "en": r"Black: the value of each node; red: the gradient $\partial {L}/\partial v$.",
        "zh": r"黑色：节点的数值；红色：梯度 $\partial {L}/\partial v$。",
    },
    "graph_omitted": {
        "en": "The network has {n} nodes, too many to draw legibly on a page (at most {max}), so "
              r"the figure of its computational graph is left out; \texttt{{symbackprop graph}} "
              "draws it as a picture.",
        "zh": "该网络有 {n} 个节点，超过一页能清楚画出的数量（至多 {max} 个），因此省略计算图；"
              r"可用 \texttt{{symbackprop graph}} 单独画出。",
    },
    "graph_legend": {
        "en": r"{param} trainable parameter\quad {input} constant input\quad {op} operation"
              r"\quad value, \textcolor{{sbpgradient}}{{gradient $\partial {L}/\partial v$}}",
        "zh": r"{param} 可训练参数\quad {input} 常量输入\quad {op} 运算"
              r"\quad 数值，\textcolor{{sbpgradient}}{{梯度 $\partial {L}/\partial v$}}",
    },
    "graph_legend_text": {
        "en": "blue: trainable parameter · grey: constant input · circle: operation · "
              "red: gradient ∂{L}/∂v",
        "zh": "蓝色：可训练参数 · 灰色：常量输入 · 圆圈：运算 · 红色：梯度 ∂{L}/∂v",
    },
    "forward": {"en": "Forward pass", "zh": "前向传播"},
    "forward_intro": {
        "en": "Evaluate each step in order, substituting the numbers:",
        "zh": "按顺序逐步计算，代入数值：",
    },
    "loss_is": {"en": "The loss is ${L} = {value}$.", "zh": "损失为 ${L} = {value}$。"},
    "backward": {"en": "Backward pass", "zh": "反向传播"},
    "backward_intro": {
        "en": "Go through the graph from the loss back to the parameters. Each node's gradient "
              "is the gradient of the node it feeds times the local derivative (chain rule).",
        "zh": "从损失出发沿计算图反向走到各参数。每个节点的梯度等于其下游节点的梯度乘以局部导数（链式法则）。",
    },
    "step": {"en": "Step {n}: gradient of the loss with respect to ${v}$",
             "zh": "第 {n} 步：损失对 ${v}$ 的梯度"},
    "since": {"en": "Since ${c} = {definition}$, the local derivative is",
              "zh": "由于 ${c} = {definition}$，局部导数为"},
    "since_loss": {"en": "Differentiate the loss ${c} = {definition}$ directly:",
                   "zh": "直接对损失 ${c} = {definition}$ 求导："},
    "chain": {"en": "By the chain rule:", "zh": "由链式法则："},
    "sum": {
        "en": "${v}$ feeds {k} nodes ({consumers}), so its gradient is the sum of {k} terms "
              "(multivariable chain rule).",
        "zh": "${v}$ 同时流向 {k} 个节点（{consumers}），所以它的梯度是 {k} 项之和（多元链式法则）。",
    },
    "gradients": {"en": "Gradients", "zh": "梯度汇总"},
    "closed_forms": {"en": "Closed forms", "zh": "闭式表达"},
    "closed_intro": {
        "en": "Substituting the steps into each other gives each gradient in node names:",
        "zh": "把各步代入，得到用节点名表示的梯度：",
    },
    "update": {"en": "Gradient-descent update", "zh": "梯度下降更新"},
    "update_intro": {
        "en": r"With learning rate $\eta = {lr}$, each parameter moves by $w \leftarrow w - \eta \, \frac{{\partial {L}}}{{\partial w}}$:",
        "zh": r"学习率 $\eta = {lr}$，每个参数按 $w \leftarrow w - \eta \, \frac{{\partial {L}}}{{\partial w}}$ 更新：",
    },
    "loss_after": {"en": "After one step the loss goes from {before} to {after}.",
                   "zh": "一步更新后，损失从 {before} 变为 {after}。"},
    "precision_exact": {
        "en": "Numbers are carried at full precision and shown to {digits} decimals.",
        "zh": "计算保持全精度，显示保留 {digits} 位小数。",
    },
    "precision_hand": {
        "en": "As by hand, every value is rounded to {digits} decimals before it is used again.",
        "zh": "与手算一样，每个数值先保留 {digits} 位小数再参与后续计算。",
    },
    "h_param": {"en": "Parameter", "zh": "参数"},
    "h_node": {"en": "Node", "zh": "节点"},
    "h_definition": {"en": "Definition", "zh": "定义"},
    "h_value": {"en": "Value", "zh": "数值"},
    "h_gradient": {"en": "Gradient", "zh": "梯度"},
    "h_formula": {"en": "Formula", "zh": "公式"},
    "h_current": {"en": "Current", "zh": "当前值"},
    "h_updated": {"en": "Updated", "zh": "更新后"},
    "and": {"en": ", ", "zh": "、"},
}

LANGS = ("en", "zh")


def phrase(key: str, lang: str = "en", **fields) -> str:
    """The sentence ``key`` in ``lang`` with ``fields`` filled in."""
    if lang not in LANGS:
        raise SymbackpropError(f"unknown language '{lang}'; use one of {', '.join(LANGS)}")
    return PHRASES[key][lang].format(**fields)
