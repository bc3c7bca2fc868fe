"""Every sentence of a worked solution, in English and Chinese: one place for prose.

>>> phrase("step", "zh", n=1, v="a_{2}")
'第 1 步：损失对 $a_{2}$ 的梯度'
"""
from __future__ import annotations

from symbackprop.errors import SymbackpropError

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
        "en": r"Figure 1 draws the forward pass as a computational graph: the "
              "leaves (parameters and constants) first, then each operation, drawn as a small "
              "circle, making the named value in the box beside it; arrows point in the forward "
              "direction.",
        "zh": r"图 1 把前向传播画成计算图：先是叶子节点（参数与常量），然后每个运算"
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
              "the figure of its computational graph is left out; symbackprop graph "
              "draws it as a picture.",
        "zh": "该网络有 {n} 个节点，超过一页能清楚画出的数量（至多 {max} 个），因此省略计算图；"
              "可用 symbackprop graph 单独画出。",
    },
    "figure": {"en": "Figure 1: {caption}", "zh": "图 1　{caption}"},
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

# ---- verify: verdicts on claims and diagnoses of wrong steps --------------
PHRASES.update({
    "v_correct": {"en": "correct", "zh": "正确"},
    "v_incorrect": {"en": "incorrect", "zh": "错误"},
    "v_error": {"en": "error", "zh": "无法检查"},
    "v_line": {"en": "line {n}", "zh": "第 {n} 行"},
    "v_verdict": {"en": "verdict", "zh": "判定"},
    "v_claim": {"en": "claim {n}", "zh": "第 {n} 个等式"},
    "v_all_correct": {"en": "All {n} claims are correct.", "zh": "全部 {n} 个等式都正确。"},
    "v_one_correct": {"en": "The claim is correct.", "zh": "该等式正确。"},
    "v_first_wrong": {"en": "First wrong step: {where} ({target}).", "zh": "第一个错误步骤：{where}（{target}）。"},
    "ok_symbolic": {"en": "equal to {target}: the difference simplifies to 0",
                    "zh": "与 {target} 相等：两者之差化简为 0"},
    "ok_numeric": {"en": "equal to {target} at {n} random points (no symbolic proof within the time limit)",
                   "zh": "在 {n} 个随机点上与 {target} 相等（时限内未完成符号化简）"},
    "ok_precision": {"en": "{target} = {exact}; {written} agrees to the precision written (±{tol})",
                     "zh": "{target} = {exact}；{written} 在所写精度内一致（±{tol}）"},
    "ok_value": {"en": "{target} = {exact}, as claimed", "zh": "{target} = {exact}，与所写一致"},
    "ok_hand": {"en": "{target} = {exact}; {written} agrees with the value carried by hand, {hand}",
                "zh": "{target} = {exact}；{written} 与逐步取整的手算值 {hand} 一致"},
    "d_sign": {"en": "wrong sign: the claim is −{target}", "zh": "符号错误：所写结果等于 −{target}"},
    "d_constant": {"en": "off by a constant factor {k}: the claim is {k} × {target}",
                   "zh": "差一个常数因子 {k}：所写结果是 {target} 的 {k} 倍"},
    "d_missing": {"en": "missing factor {factor}", "zh": "缺少因子 {factor}"},
    "d_part_of": {"en": "{factor} (part of {local} = {whole})", "zh": "{factor}（{local} = {whole} 的一部分）"},
    "d_missing2": {"en": "missing factors {factor} and {factor2}", "zh": "缺少因子 {factor} 和 {factor2}"},
    "d_extra": {"en": "extra factor {factor}", "zh": "多了因子 {factor}"},
    "d_extra2": {"en": "extra factors {factor} and {factor2}", "zh": "多了因子 {factor} 和 {factor2}"},
    "d_wrong_factor": {"en": "wrong local derivative: {got} where {want} belongs",
                       "zh": "局部导数用错：应为 {want}，却用了 {got}"},
    "d_and_sign": {"en": ", and the sign is wrong", "zh": "，且符号错误"},
    "d_and_constant": {"en": ", and off by a constant factor {k}", "zh": "，且差一个常数因子 {k}"},
    "d_missing_term": {
        "en": "missing the term through {consumer}: {v} feeds {k} nodes, so {sum} is a sum of {k} terms",
        "zh": "漏掉了经由 {consumer} 的一项：{v} 流向 {k} 个节点，{sum} 是 {k} 项之和",
    },
    "d_missing_terms": {
        "en": "missing the terms through {consumers}: {v} feeds {k} nodes, so {sum} is a sum of {k} terms",
        "zh": "漏掉了经由 {consumers} 的几项：{v} 流向 {k} 个节点，{sum} 是 {k} 项之和",
    },
    "d_offset": {"en": "a term is missing: {target} has the term {term}; the claim is {claim}",
                 "zh": "漏掉了一项：{target} 含有 {term} 这一项；所写结果是 {claim}"},
    "d_rounding_entry": {"en": "rounded wrongly: the entry {entry} of {target} is {exact}, which rounds to "
                                 "{rounded}, not {written}",
                           "zh": "舍入错误：{target} 的第 {entry} 个元素为 {exact}，应舍入为 {rounded}，而不是 {written}"},
    "d_rounding": {"en": "rounded wrongly: {target} = {exact}, which rounds to {rounded}, not {written}",
                   "zh": "舍入错误：{target} = {exact}，应舍入为 {rounded}，而不是 {written}"},
    "d_wrong_value": {"en": "wrong value: {target} = {exact} ({rounded} to {digits} decimals), not {written}",
                      "zh": "数值错误：{target} = {exact}（保留 {digits} 位小数为 {rounded}），而不是 {written}"},
    "d_wrong_integer": {"en": "wrong value: {target} = {exact}, not {written}",
                        "zh": "数值错误：{target} = {exact}，而不是 {written}"},
    "d_numbers_off": {"en": "wrong value: the numbers give {claimed}, but {target} = {exact}",
                      "zh": "数值错误：所写算式得 {claimed}，而 {target} = {exact}"},
    "d_shape": {"en": "shape mismatch: {detail}", "zh": "形状不匹配：{detail}"},
    "d_shape_result": {"en": "shape mismatch: the claim is {got}, but {target} has the shape of {v}, {want}",
                       "zh": "形状不匹配：所写结果是 {got}，而 {target} 应与 {v} 同形，为 {want}"},
    "d_shape_rows": {"en": "; it has to be summed over the rows (\\sum_i)",
                     "zh": "；需要对各行求和（\\sum_i）"},
    "d_shape_written": {"en": "shape mismatch: the shape written, {written}, is not that of {target}: it has the shape of {v}, {want}",
                        "zh": "形状不匹配：所写形状 {written} 不对，{target} 应与 {v} 同形，为 {want}"},
    "d_transpose": {"en": "transposed: the claim is ({target})ᵀ, of shape {got}; {target} has the shape of {v}, {want}",
                    "zh": "转置错误：所写结果是 ({target})ᵀ，形状为 {got}；{target} 应与 {v} 同形，为 {want}"},
    "ok_matrix": {"en": "equal to {target}, entry by entry, at {n} random sizes (such as {sizes})",
                  "zh": "在 {n} 组随机尺寸上与 {target} 逐元素相等（如 {sizes}）"},
    "ok_matrix_given": {
        "en": "equal to {target}, entry by entry, at the given values and at {n} random sizes (such as {sizes})",
        "zh": "在给定数值和 {n} 组随机尺寸上与 {target} 逐元素相等（如 {sizes}）",
    },
    "d_other_matrix": {
        "en": "not equal: with {sizes} the entry {entry} of the claim is {claimed} but that of {target} is {expected}",
        "zh": "不相等：在 {sizes} 时，所写结果的第 {entry} 个元素为 {claimed}，而 {target} 的为 {expected}",
    },
    "d_other": {"en": "not equal: at {point} the claim is {claimed} but {target} = {expected}",
                "zh": "不相等：在 {point} 处所写式子为 {claimed}，而 {target} = {expected}"},
    "d_other_at": {"en": "not equal: at {point} the claim is {claimed} but {target} = {expected}",
                   "zh": "不相等：在 {point} 处所写式子为 {claimed}，而 {target} = {expected}"},
    "d_other_plain": {"en": "not equal: the claim is {claimed} but {target} = {expected}",
                      "zh": "不相等：所写式子为 {claimed}，而 {target} = {expected}"},
    "d_other_entry": {
        "en": "not equal: at {point} the entry {entry} of the claim is {claimed} but that of {target} is {expected}",
        "zh": "不相等：在 {point} 时，所写结果的第 {entry} 个元素为 {claimed}，而 {target} 的为 {expected}"},
    "d_other_entry_plain": {
        "en": "not equal: the entry {entry} of the claim is {claimed} but that of {target} is {expected}",
        "zh": "不相等：所写结果的第 {entry} 个元素为 {claimed}，而 {target} 的为 {expected}"},
    "d_at_entry": {"en": " (entry {entry})", "zh": "（第 {entry} 个元素）"},
    "d_term_sign": {"en": "wrong sign on one term: the term through {consumer} (where {v} is used) "
                          "has its sign flipped",
                    "zh": "有一项符号错误：经由 {consumer}（{v} 在此被使用）的那一项符号反了"},
    "d_shape_columns": {"en": "; it has to be summed over the columns (the examples)",
                        "zh": "；需要对各列（样本）求和"},
    "d_only_given": {"en": "true at the given values, but not {reading}: ",
                     "zh": "在给定数值下成立，但{reading}不成立："},
    "r_given": {"en": "at the given values", "zh": "在给定数值下"},
    "r_inputs": {"en": "for other values of the parameters", "zh": "对参数的其他取值"},
    "r_general": {"en": "in general", "zh": "一般情形下"},
    "d_transpose_name": {"en": "a transpose is missing: with {name}ᵀ in place of {name} the claim is right",
                         "zh": "缺少转置：把 {name} 换成 {name}ᵀ 后等式成立"},
    "ok_entries": {"en": "equal to {target}, all {n} entries to the precision written (±{tol})",
                   "zh": "与 {target} 相等：{n} 个元素都在所写精度内一致（±{tol}）"},
    "ok_equal": {"en": "equal to {target}", "zh": "与 {target} 相等"},
    "h_general": {"en": "true in general (at {n} random points)",
                  "zh": "一般成立（在 {n} 个随机点上）"},
    "h_general_sizes": {"en": "true in general: entry by entry at {n} random sizes (such as {sizes})",
                        "zh": "一般成立：在 {n} 组随机尺寸上逐元素相等（如 {sizes}）"},
    "h_inputs": {"en": "true for these inputs ({inputs}) at {n} random values of the parameters, "
                       "but not in general",
                 "zh": "对这组输入（{inputs}）在 {n} 组随机参数下成立，但一般不成立"},
    "h_given": {"en": "true at the given values (not for other values of the parameters)",
                "zh": "在给定数值下成立（参数取其他值时不成立）"},
    "ok_meant_local": {"en": "; read as the local derivative (one path)", "zh": "；按局部导数（单条路径）理解"},
    "ok_meant_total": {"en": "; read as the total derivative (every path)", "zh": "；按全导数（所有路径之和）理解"},
})

# ---- matrix form -------------------------------------------------------------
PHRASES.update({
    "m_network_intro": {
        "en": "The forward pass on a batch, one named step per line, with the shape of each result:",
        "zh": "批量前向传播，每行一个有名字的计算步骤，右侧是结果的形状：",
    },
    "h_shape": {"en": "Shape", "zh": "形状"},
    "h_size": {"en": "Size", "zh": "大小"},
    "scalar": {"en": "scalar", "zh": "标量"},
    "m_sizes": {"en": "The values give the sizes {sizes}.", "zh": "由已知数值得到维度 {sizes}。"},
    "m_given": {"en": "Given values:", "zh": "已知数值："},
    "m_backward_intro": {
        "en": "Go from the loss back to the parameters. Each step names the rule it uses, and the "
              "result has exactly the shape of the node it belongs to: if the shapes do not "
              "match, the derivation is wrong.",
        "zh": "从损失出发反向走到各参数。每一步写出所用的法则；结果的形状必须与对应节点完全相同，"
              "维度对不上，推导就一定有错。",
    },
    "m_since": {"en": "${v}$ feeds ${c}$; by the {rules}:", "zh": "${v}$ 流向 ${c}$，由{rules}："},
    "m_since_loss": {"en": "${v}$ feeds the loss ${c}$ directly; by the {rules}:",
                     "zh": "${v}$ 直接流向损失 ${c}$，由{rules}："},
    "m_fused": {
        "en": "${v}$ feeds ${c}$, which feeds only the loss ${L}$; by the {rules} the two steps "
              "combine into one{assumption}:",
        "zh": "${v}$ 流向 ${c}$，而 ${c}$ 只流向损失 ${L}$；由{rules}，两步合为一步{assumption}：",
    },
    "rows_sum_to_one": {"en": " (every row of ${Y}$ sums to 1, as one-hot targets do)",
                        "zh": "（${Y}$ 的每一行之和为 1，如 one-hot 标签）"},
    "m_shape_check": {"en": "Shape check: the result has the shape of ${v}$.",
                      "zh": "维度检查：结果与 ${v}$ 的形状相同。"},
    "m_gradients_intro": {
        "en": "Each gradient has exactly the shape of its parameter:",
        "zh": "每个梯度的形状都与对应参数完全相同：",
    },
    "m_graph_intro": {
        "en": r"Figure 1 draws it as a computational graph: each operation (matrix "
              r"product $\cdot$, broadcast sum $+$, elementwise functions, …) is a small circle, "
              r"each named result a box with its shape; the parameters come in from the side.",
        "zh": r"图 1 把它画成计算图：每个运算（矩阵乘法 $\cdot$、广播加法 $+$、"
              r"逐元素函数等）是一个小圆圈，每个有名字的结果是标出形状的方框；参数从侧面进入。",
    },
    "m_graph_values": {
        "en": r"In red: each gradient $\partial {L}/\partial V$, of the shape of $V$, written out "
              r"when small, else its Frobenius norm $\|\partial {L}/\partial V\|$.",
        "zh": r"红色为梯度 $\partial {L}/\partial V$，形状与 $V$ 相同：较小的写出全部元素，"
              r"较大的给出 Frobenius 范数 $\|\partial {L}/\partial V\|$。",
    },
    "m_graph_shapes": {
        "en": r"In red is the shape of each gradient $\partial {L}/\partial V$: always that of $V$.",
        "zh": r"红色是梯度 $\partial {L}/\partial V$ 的形状：总与 $V$ 的形状相同。",
    },
    "m_graph_caption": {
        "en": "The computational graph of the batched forward pass. Blue: trainable parameters; "
              "grey: constant inputs{sizes}; ",
        "zh": "批量前向传播的计算图。蓝色：可训练参数；灰色：常量输入{sizes}；",
    },
    "m_graph_caption_sizes": {"en": "; in parentheses: sizes", "zh": "；括号内：具体大小"},
    "m_graph_caption_values": {
        "en": r"red: $\partial {L}/\partial V$ (its norm when large).",
        "zh": r"红色：$\partial {L}/\partial V$（较大时为其范数）。",
    },
    "m_graph_caption_shapes": {
        "en": r"red: the shape of $\partial {L}/\partial V$.",
        "zh": r"红色：$\partial {L}/\partial V$ 的形状。",
    },
    "m_graph_legend": {
        "en": r"{param} trainable parameter\quad {input} constant input\quad {op} operation{sizes}"
              r"\quad \textcolor{{sbpgradient}}{{{gradient}}}",
        "zh": r"{param} 可训练参数\quad {input} 常量输入\quad {op} 运算{sizes}"
              r"\quad \textcolor{{sbpgradient}}{{{gradient}}}",
    },
    "m_graph_legend_sizes": {"en": r"\quad {{\color{{black!55}}(${example}$)}} size",
                             "zh": r"\quad {{\color{{black!55}}(${example}$)}} 大小"},
    "m_graph_legend_values": {"en": r"gradient $\partial {L}/\partial V$ or its norm",
                              "zh": r"梯度 $\partial {L}/\partial V$ 或其范数"},
    "m_graph_legend_shapes": {"en": r"shape of the gradient $\partial {L}/\partial V$",
                              "zh": r"梯度 $\partial {L}/\partial V$ 的形状"},
    "m_graph_legend_text": {
        "en": "blue: trainable parameter · grey: constant input · circle: operation{sizes} · "
              "red: {gradient}",
        "zh": "蓝色：可训练参数 · 灰色：常量输入 · 圆圈：运算{sizes} · 红色：{gradient}",
    },
    "m_graph_legend_text_sizes": {"en": " · ({example}): size", "zh": " · ({example})：大小"},
    "m_graph_legend_text_values": {"en": "gradient ∂{L}/∂V or its norm ‖∂{L}/∂V‖",
                                   "zh": "梯度 ∂{L}/∂V 或其范数 ‖∂{L}/∂V‖"},
    "m_graph_legend_text_shapes": {"en": "shape of the gradient ∂{L}/∂V",
                                   "zh": "梯度 ∂{L}/∂V 的形状"},
})

LANGS = ("en", "zh")


def phrase(key: str, lang: str = "en", **fields) -> str:
    """The sentence ``key`` in ``lang`` with ``fields`` filled in."""
    if lang not in LANGS:
        raise SymbackpropError(f"unknown language '{lang}'; use one of {', '.join(LANGS)}")
    return PHRASES[key][lang].format(**fields)
