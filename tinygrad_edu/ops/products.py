"""Products: matmul, the linear layer's z = x Wᵀ + b as one op, and einsum; then PyTorch's
function and method forms of arithmetic (`tg.add(x, y, alpha=2)`, `tg.mm`, `x.div(y,
rounding_mode='floor')`, …), which call the same ops as the operators do.
"""

from __future__ import annotations

import string
from functools import lru_cache
from typing import Any

import numpy as np

from tinygrad_edu.ops import add_bias, expand, sum_rows, sum_to_shape, tangent_sum, values
from tinygrad_edu.tensor import (
    Function,
    Tensor,
    _describe,
    _operand_array,
    result_dtype,
    tensor,
)

__all__ = [
    "DivRounding", "Einsum", "LinearOp", "MatMul", "StackedLinearOp",
    "add", "bmm", "div", "einsum", "matmul", "mm", "mul", "neg", "pow", "sub",
]


# ----------------------------------------------------------------------------------------
# Matrix products
# ----------------------------------------------------------------------------------------


def _matmul_shape_check(op: str, a: tuple[int, ...], b: tuple[int, ...]) -> None:
    if not a or not b:
        raise ValueError(f"{op}: both operands need at least 1 dimension, got {a} and {b}")
    inner_b = b[0] if len(b) == 1 else b[-2]
    if a[-1] != inner_b:
        raise ValueError(f"{op}: shapes {a} and {b} do not match: {a[-1]} columns "
                         f"against {inner_b} rows")


class MatMul(Function):
    """out = a @ b, the matrix product (numpy's rules for 1-D and batched operands)."""

    def forward(self, a, b):
        _matmul_shape_check("matmul", a.shape, b.shape)
        return _dot(a, b)

    # for out = A B: ∂C/∂A = ∂C/∂out · Bᵀ and ∂C/∂B = Aᵀ · ∂C/∂out. A 1-D operand is
    # treated as a row (on the left) or a column (on the right) vector, as numpy does;
    # batch axes that were broadcast are summed back.
    def backward(self, grad, out, a, b):
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        grad2 = grad.reshape(out.shape[:-1] + (1,) + out.shape[-1:]) if a.ndim == 1 else grad
        grad2 = grad2.reshape(grad2.shape + (1,)) if b.ndim == 1 else grad2
        da = db = None
        if self.needs_input_grad[0]:
            da = sum_to_shape(_dot(grad2, b2.swapaxes(-1, -2)), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            db = sum_to_shape(_product(a2.swapaxes(-1, -2), grad2), b2.shape).reshape(b.shape)
        return da, db

    # d(a @ b) = da @ b + a @ db  (the product rule; a term only for what moves)
    def jvp(self, tangents, out, a, b):
        da, db = tangents
        return tangent_sum(out.shape, None if da is None else _dot(da, b),
                           None if db is None else _dot(a, db))


def _product(a: Any, b: Any) -> Any:
    """a @ b. When the summed axis has length 1 (outer products, as per-example gradients
    are) numpy's `@` runs no BLAS: 32 outer products of 16 by 784 (float32) took 535 µs,
    74 by einsum. Padding the sum with a zero term (a column of zeros beside a, a row of
    zeros under b) makes it a BLAS product of the same numbers (x·y + 0·0 is x·y, but for
    the sign of a zero: −0 comes out +0): 58 µs. Small ones (under ~1,000 numbers each) are
    cheaper by broadcasting."""
    if not (isinstance(a, np.ndarray) and a.shape[-1] == 1):
        return a @ b
    if a.shape[-2] * b.shape[-1] < 1024:  # out[..., i, j] = a[..., i, 0] · b[..., 0, j]
        return a * b  # (broadcasting (…, m, 1) against (…, 1, n): each element one product)
    dtype = np.result_type(a, b)
    column = np.zeros((*a.shape[:-1], 2), dtype)
    column[..., :1] = a
    row = np.empty((*b.shape[:-2], 2, b.shape[-1]), dtype)  # (each half written once)
    row[..., :1, :] = b
    row[..., 1:, :] = 0
    return column @ row


def _dot(a: Any, b: Any) -> Any:
    """a @ b, through np.dot when both are matrices: the same BLAS call and bits, but numpy 2.4's
    `@` skips BLAS for some thin products — (16, 1)·(1, 784), W's gradient at batch 1, took
    15–18 µs against np.dot's 3 µs, a sixth of the digit network's whole step."""
    if isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.ndim == b.ndim == 2:
        return np.dot(a, b)
    return a @ b  # (Tensors under create_graph: @ records the product in the graph)


def _per_item_product(x: Any, weight: Any) -> Any:
    """x[b] @ weight[b] for a stack of items. When the stack is one matrix seen B times
    (stride 0: vmap(grad) gives each item a leaf over the same weight's memory) all items'
    rows go through one BLAS product instead of B small ones."""
    if isinstance(weight, np.ndarray) and weight.strides[0] == 0 and x.ndim == 3:
        rows = np.dot(x.reshape(-1, x.shape[-1]), weight[0])
        return rows.reshape(*x.shape[:-1], weight.shape[-1])
    return x @ weight


class LinearOp(Function):
    """z = x Wᵀ + b for a batch of rows x: the weighted sums of a layer, one op.

    W has shape (outputs, inputs), each row one neuron's weights, as in z(l) = W a(l−1) + b
    of the lessons (written for a column a; a batch stores its samples as rows, hence Wᵀ).
    One op instead of matmul, transpose and add: three graph nodes' bookkeeping saved on
    the hottest path, and W's gradient comes out in W's own memory order.
    """

    def forward(self, x, weight, bias=None):
        try:
            z = _dot(x, weight.T)
            if bias is not None:
                z = add_bias(z, bias)
        except ValueError:  # explained here, only when it happens (no cost otherwise)
            raise ValueError(
                f"linear: input of shape {x.shape} does not fit weight of shape "
                f"{weight.shape} and bias of shape {getattr(bias, 'shape', None)} (needs "
                f"input.shape[-1] == weight.shape[1] and bias of shape ({weight.shape[0]},))"
            ) from None
        return z

    # ∂C/∂x = ∂C/∂z · W,  ∂C/∂W = (∂C/∂z)ᵀ · x  (so ∂C/∂w_jk = Σ ∂C/∂z_j · a_k),  ∂C/∂b = Σ ∂C/∂z
    def backward(self, grad, out, x, weight, bias=None):
        needs = self.needs_input_grad
        dx = _dot(grad, weight) if needs[0] else None
        if x.ndim != 2:  # extra batch axes: every row is one sample
            grad, x = grad.reshape(-1, grad.shape[-1]), x.reshape(-1, x.shape[-1])
        dw = _dot(grad.T, x) if needs[1] else None
        if bias is None:
            return dx, dw
        return dx, dw, sum_rows(grad) if needs[2] else None

    # dz = dx Wᵀ + x dWᵀ + db  (the product rule; a term only for what moves)
    def jvp(self, tangents, out, x, weight, bias=None):
        dx, dw, db = (*tangents, None)[:3]
        return tangent_sum(out.shape, None if dx is None else _dot(dx, weight.T),
                           None if dw is None else _dot(x, dw.T), db)


class StackedLinearOp(Function):
    """z[b] = x[b] W[b]ᵀ + bias[b] for a stack of B linear layers, one per item: x (B, M,
    in), W (B, out, in), bias (B, out) → (B, M, out). vmap's rule for a linear layer whose
    weight differs per item (per-example gradients give each item its own copy): one op
    where reshapes, a transpose, a product and a sum would be five."""

    name = "stacked_linear"

    def forward(self, x, weight, bias=None):
        z = _per_item_product(x, weight.swapaxes(-1, -2))
        return z if bias is None else z + bias[:, None, :]  # (a new array: z is a view
        # of the product, and apply() would link a view's versions to its inputs')

    # per item, as LinearOp: ∂C/∂x = ∂C/∂z · W, ∂C/∂W = (∂C/∂z)ᵀ · x, ∂C/∂b = Σ_rows ∂C/∂z
    def backward(self, grad, out, x, weight, bias=None):
        needs = self.needs_input_grad
        dx = _per_item_product(grad, weight) if needs[0] else None
        dw = _product(grad.swapaxes(-1, -2), x) if needs[1] else None
        if bias is None:
            return dx, dw
        if not needs[2]:
            return dx, dw, None
        # (one row per item, as per-example gradients give: the sum is that row)
        return dx, dw, grad[:, 0] if grad.shape[1] == 1 else grad.sum(axis=1)

    # dz[b] = dx[b] W[b]ᵀ + x[b] dW[b]ᵀ + db[b]
    def jvp(self, tangents, out, x, weight, bias=None):
        dx, dw, db = (*tangents, None)[:3]
        return tangent_sum(out.shape, None if dx is None else dx @ weight.swapaxes(-1, -2),
                           None if dw is None else x @ dw.swapaxes(-1, -2),
                           None if db is None else db[:, None, :])


def _shape_of(value: Any) -> tuple[int, ...]:
    return value.shape if isinstance(value, (Tensor, np.ndarray)) else np.shape(value)


def matmul(input: Any, other: Any) -> Tensor:
    """Matrix product with numpy's rules for 1-D and batched operands (`input @ other`)."""
    input, other = _pair("matmul", input, other)
    return input @ other


def mm(input: Any, mat2: Any) -> Tensor:
    """The product of two matrices, as torch.mm: 2-D only (matmul, `@`, takes other shapes)."""
    a, b = _shape_of(input), _shape_of(mat2)
    for name, shape in (("input", a), ("mat2", b)):
        if len(shape) != 2:
            raise RuntimeError(f"mm: {name} must be a matrix (2-D), got shape {shape}; "
                               "matmul (@) takes vectors and batches")
    if a[1] != b[0]:
        raise RuntimeError(f"mm: shapes {a} and {b} cannot be multiplied ({a[0]}x{a[1]} and "
                           f"{b[0]}x{b[1]}): input's {a[1]} columns against mat2's {b[0]} rows")
    return matmul(input, mat2)


def bmm(input: Any, mat2: Any) -> Tensor:
    """Batched matrix product, as torch.bmm: (b, n, k) @ (b, k, m) → (b, n, m), with equal
    batch sizes (no broadcasting; matmul, `@`, broadcasts)."""
    a, b = _shape_of(input), _shape_of(mat2)
    for name, shape in (("input", a), ("mat2", b)):
        if len(shape) != 3:
            raise RuntimeError(f"bmm: {name} must be a batch of matrices (3-D), got shape "
                               f"{shape}")
    if a[0] != b[0] or a[2] != b[1]:
        raise RuntimeError(f"bmm: input of shape {a} needs mat2 of shape ({a[0]}, {a[2]}, m), "
                           f"got {b}")
    return matmul(input, mat2)


# ----------------------------------------------------------------------------------------
# einsum: the equation names every axis; the gradient is an einsum too
# ----------------------------------------------------------------------------------------
LETTERS = string.ascii_uppercase + string.ascii_lowercase  # in ASCII order, as PyTorch sorts


class Einsum(Function):
    """out = Σ Π operands, summed over the letters the output does not keep, for an
    equation that `einsum()` wrote out in full: one letter per axis, no '...', the output
    after '->'. A letter of size 1 in one operand broadcasts, as in PyTorch."""

    def forward(self, *operands, equation):
        self.equation = equation
        self.terms, self.output = _split(equation)
        self.sizes = _letter_sizes(self.terms, [x.shape for x in operands])
        return _contract(equation, [_broadcast(x, term, self.sizes)
                                    for x, term in zip(operands, self.terms, strict=True)])

    # ∂out/∂x_i is the product of the other operands, so ∂C/∂x_i is an einsum again: the
    # output's gradient and the other operands, contracted to x_i's letters. A letter that
    # x_i repeats (a diagonal, 'ii->i') meets a Kronecker delta δ; a letter only x_i has
    # was summed away, so the gradient is copied along it; broadcast axes are summed back.
    def backward(self, grad, out, *operands):
        return tuple(self._gradient(i, grad, operands) if needed else None
                     for i, needed in enumerate(self.needs_input_grad))

    def _gradient(self, i: int, grad: Any, operands: tuple[Any, ...]) -> Any:
        term, sizes = self.terms[i], self.sizes
        fresh = (letter for letter in LETTERS if letter not in self.equation)
        target, deltas = "", []
        for letter in term:
            if letter in target:  # x_i[i, i]: ∂/∂x_i[i, a] carries δ_ia
                renamed = next(fresh)
                deltas.append(letter + renamed)
                target += renamed
            else:
                target += letter
        others = [j for j in range(len(self.terms)) if j != i]
        terms = [self.output, *(self.terms[j] for j in others), *deltas]
        sources = [grad, *(_broadcast(operands[j], self.terms[j], sizes) for j in others),
                   *(_delta(sizes[pair[0]], grad) for pair in deltas)]
        present = set("".join(terms))
        kept = "".join(letter for letter in target if letter in present)
        gradient = _einsum_of(f"{','.join(terms)}->{kept}", sources)
        if kept != target:  # letters only x_i has: the same gradient all along them
            kept_shape = tuple(sizes[old] if new in present else 1
                               for new, old in zip(target, term, strict=True))
            gradient = expand(gradient.reshape(kept_shape), tuple(sizes[old] for old in term))
        return sum_to_shape(gradient, operands[i].shape)

    # d einsum(x₁, …, xₙ) = Σᵢ einsum(x₁, …, dxᵢ, …, xₙ): einsums again, one per moving operand
    def jvp(self, tangents, out, *operands):
        broadcast = [_broadcast(x, term, self.sizes)
                     for x, term in zip(operands, self.terms, strict=True)]
        return tangent_sum(out.shape, *(
            None if dx is None else _einsum_of(self.equation, [
                *broadcast[:i], _broadcast(dx, self.terms[i], self.sizes), *broadcast[i + 1:]])
            for i, dx in enumerate(tangents)))


def _split(equation: str) -> tuple[list[str], str]:
    """'ij,jk->ik' → (['ij', 'jk'], 'ik')."""
    inputs, output = equation.split("->")
    return inputs.split(","), output


def _letter_sizes(terms: list[str], shapes: list[tuple[int, ...]]) -> dict[str, int]:
    """Each letter's length; a length 1 gives way to another (it broadcasts)."""
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes, strict=True):
        for letter, n in zip(term, shape, strict=True):
            if sizes.get(letter, 1) == 1:
                sizes[letter] = n
    return sizes


def _broadcast(x: Any, term: str, sizes: dict[str, int]) -> Any:
    """x stretched along its axes of length 1 to the lengths the other operands give."""
    shape = tuple(sizes[letter] for letter in term)
    return x if x.shape == shape else expand(x, shape)


def _delta(n: int, like: Any) -> Any:
    """The n×n identity δ_ab, as an array or a (constant) Tensor like `like`."""
    identity = np.eye(n, dtype=values(like).dtype)
    return Tensor._wrap(identity) if isinstance(like, Tensor) else identity


def _contract(equation: str, arrays: list[np.ndarray]) -> np.ndarray:
    """numpy's einsum. Its plain C loop is fastest for small operands; for large ones,
    optimize=True hands pairs to BLAS (5× faster for (64, 128, 64) batches) at ~15 µs of
    planning, worth it only then."""
    large = len(arrays) > 1 and max(a.size for a in arrays) >= 4096
    return np.einsum(equation, *arrays, optimize=large)


def _einsum_of(equation: str, sources: list[Any]) -> Any:
    """einsum of arrays (a plain backward), or the Einsum op on Tensors (under
    create_graph=True, so the gradient can be differentiated again)."""
    if isinstance(sources[0], Tensor):
        return Einsum.apply(*sources, equation=equation)
    return _contract(equation, sources)


def einsum(equation: str, *operands: Any) -> Tensor:
    """Sums of products over the axes an equation names, as torch.einsum.

    'ij,jk->ik' is a matrix product, 'bij,bjk->bik' a batched one, 'i,i->' a dot product,
    'ii->i' a diagonal, 'ij->' a sum, '...ij->...ji' swaps the last two axes of any batch.
    Without '->' the output is the '...' axes, then the letters used once, in alphabetical
    order (capitals first). The operands may also come as one list: einsum('ij,jk', [a, b]).
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise TypeError(f"einsum: the equation must be a string such as 'ij,jk->ik', got "
                        f"{_describe(equation)}")
    if not operands:
        raise ValueError(f"einsum: no operands were given for the equation {equation!r}")
    tensors = _one_dtype("einsum", [_einsum_operand(x, i) for i, x in enumerate(operands)])
    written = _write_out(equation.replace(" ", ""), tuple(t.shape for t in tensors))
    return Einsum.apply(*tensors, equation=written)


def _einsum_operand(x: Any, position: int) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x)
    raise TypeError(f"einsum: operand {position} is {_describe(x)}; give Tensors (or numpy "
                    "arrays)")


def _one_dtype(op: str, tensors: list[Tensor]) -> list[Tensor]:
    """The tensors in one dtype, promoted as the operators promote (`Tensor._operands`)."""
    dtype = tensors[0].dtype
    if all(t.dtype == dtype for t in tensors):
        return tensors
    promoted = tensors[0]
    for t in tensors[1:]:
        promoted = promoted._operands(t, op)[0]
    return [t if t.dtype == promoted.dtype else t.to(promoted.dtype) for t in tensors]


@lru_cache(maxsize=256)
def _write_out(equation: str, shapes: tuple[tuple[int, ...], ...]) -> str:
    """The equation with each axis named by a letter of its own and the output given: the
    axes under '...' get letters the equation does not use, and a missing '->' becomes
    those letters and then the ones used once, sorted. Checks the equation against the
    operands' shapes on the way."""
    inputs, arrow, output = equation.partition("->")
    if "->" in output:
        raise ValueError(f"einsum: the equation {equation!r} has more than one '->'")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} has subscripts for {len(terms)} "
                         f"operand(s) but {len(shapes)} were given")
    parsed = [_parse_term(equation, term) for term in terms]
    spare = [letter for letter in LETTERS if letter not in equation]
    covered = [_ellipsis_axes(equation, i, term, shape)
               for i, (term, shape) in enumerate(zip(parsed, shapes, strict=True))]
    ellipsis = max(covered, default=0)
    if ellipsis > len(spare):
        raise ValueError(f"einsum: {equation!r} needs more than the 52 letters a–z, A–Z")
    axes = spare[:ellipsis]  # the letters that stand for the '...' axes
    written = [before + "".join(axes[ellipsis - n:]) + after
               for (before, after, _), n in zip(parsed, covered, strict=True)]
    _check_sizes(equation, written, shapes, set(axes))
    letters = "".join(before + after for before, after, _ in parsed)
    if arrow:
        before, after, has_ellipsis = _parse_term(equation, output)
        for k, letter in enumerate(before + after):
            if letter not in letters:
                raise ValueError(f"einsum: output subscript {letter!r} of {equation!r} does "
                                 "not appear in any operand's subscripts")
            if letter in (before + after)[:k]:
                raise ValueError(f"einsum: output subscript {letter!r} appears twice in "
                                 f"{equation!r}")
        result = before + ("".join(axes) if has_ellipsis else "") + after
    else:
        result = "".join(axes) + "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    return ",".join(written) + "->" + result


def _parse_term(equation: str, term: str) -> tuple[str, str, bool]:
    """'ab...c' → ('ab', 'c', True): the letters before and after '...', and whether it is there."""
    before, ellipsis, after = term.partition("...")
    for letter in before + after:
        if letter == ".":
            raise ValueError(f"einsum: {equation!r} has a '.' that is not part of one '...' "
                             f"(in {term!r}; one '...' per operand at most)")
        if letter not in LETTERS:
            raise ValueError(f"einsum: invalid subscript {letter!r} in {equation!r}: "
                             "subscripts are the letters a–z and A–Z")
    return before, after, bool(ellipsis)


def _ellipsis_axes(equation: str, position: int, term: tuple[str, str, bool],
                   shape: tuple[int, ...]) -> int:
    """How many axes of this operand its '...' stands for."""
    before, after, has_ellipsis = term
    named = len(before) + len(after)
    if named > len(shape) or (named != len(shape) and not has_ellipsis):
        raise ValueError(
            f"einsum: operand {position} has {len(shape)} dimension(s) (shape {shape}) but "
            f"its subscripts {before + '...' * has_ellipsis + after!r} in {equation!r} name "
            f"{named}" + ("" if has_ellipsis else ", and there is no '...' for the rest"))
    return len(shape) - named


def _check_sizes(equation: str, written: list[str], shapes: tuple[tuple[int, ...], ...],
                 ellipsis_letters: set[str]) -> None:
    """A letter's length is the same in every operand (or 1, which broadcasts); a letter
    repeated within one operand (a diagonal) has exactly one length there."""
    seen: dict[str, tuple[int, int]] = {}  # letter → (length, the operand that gave it)
    for position, (term, shape) in enumerate(zip(written, shapes, strict=True)):
        mine: dict[str, int] = {}
        for letter, n in zip(term, shape, strict=True):
            name = "an axis under '...'" if letter in ellipsis_letters else f"subscript {letter!r}"
            if mine.setdefault(letter, n) != n:
                raise ValueError(f"einsum: {name} is repeated in operand {position} (shape "
                                 f"{shape}) with different lengths {mine[letter]} and {n}")
            length, source = seen.get(letter, (1, position))
            if n != length and 1 not in (n, length):
                raise ValueError(
                    f"einsum: {name} of {equation!r} has length {n} in operand {position} "
                    f"(shape {shape}) but {length} in operand {source} (shape "
                    f"{shapes[source]}); lengths must match (or be 1, which broadcasts)")
            if length == 1:
                seen[letter] = (n, position)


# ----------------------------------------------------------------------------------------
# The function and method forms of arithmetic, as PyTorch spells them: torch.add(x, y,
# alpha=2), x.div(y, rounding_mode='floor'), … They call the operators (+ − · / ** @), so
# they share their ops and their type promotion (Tensor._operands).
# ----------------------------------------------------------------------------------------


def _as_tensor(op: str, value: Any) -> Tensor:
    """A Tensor for `value`: a number becomes one as torch.tensor would make it."""
    if isinstance(value, Tensor):
        return value
    if isinstance(value, (bool, int, float, np.number, np.bool_, np.ndarray)):
        return tensor(value)
    raise TypeError(f"{op}: input must be a Tensor or a number, got {_describe(value)}")


def _pair(op: str, input: Any, other: Any) -> tuple[Any, Any]:
    """The two operands, at least one a Tensor (torch.add(2, 3) is a tensor too)."""
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = _as_tensor(op, input)
    return input, other


def _scaled(op: str, input: Any, other: Any, alpha: Any) -> Any:
    """alpha · other, with PyTorch's rules for alpha: a number; an integer when the result
    is an integer tensor, True or False when it is a bool tensor (and only then)."""
    if type(alpha) is int and alpha == 1:  # the default: nothing to scale or check
        return other
    if not isinstance(alpha, (bool, int, float, np.bool_, np.integer, np.floating)):
        raise TypeError(f"{op}: alpha must be a number, got {_describe(alpha)}")
    mine, theirs = (input, other) if isinstance(input, Tensor) else (other, input)
    dtype = result_dtype(mine.data, _operand_array(theirs, op), theirs)
    is_bool = isinstance(alpha, (bool, np.bool_))
    if is_bool != (dtype.kind == "b"):
        raise RuntimeError(f"{op}: alpha={alpha!r} with a result of {dtype}: a bool alpha "
                           "goes only with bool tensors, and bool tensors take only a bool "
                           "alpha (as in PyTorch)")
    if dtype.kind in "iu" and isinstance(alpha, (float, np.floating)):
        raise RuntimeError(f"{op}: alpha={alpha} is a float but the result is an integer "
                           f"tensor ({dtype}); give an integer alpha, or convert first, e.g. "
                           "x.float()")
    if isinstance(other, (bool, np.bool_)):
        return bool(other and alpha)  # (True * True is the int 1 in Python)
    if isinstance(other, (list, tuple)):
        other = _operand_array(other, op)  # (a list times 2 would repeat it)
    return other * alpha


def add(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """input + alpha · other, as torch.add: the `+` op, with its type promotion."""
    input, other = _pair("add", input, other)
    return input + _scaled("add", input, other, alpha)


def sub(input: Any, other: Any, *, alpha: Any = 1) -> Tensor:
    """input − alpha · other, as torch.sub: the `-` op, with its type promotion."""
    input, other = _pair("sub", input, other)
    return input - _scaled("sub", input, other, alpha)


def mul(input: Any, other: Any) -> Tensor:
    """input · other, elementwise with broadcasting, as torch.mul (the `*` op)."""
    input, other = _pair("mul", input, other)
    return input * other


def pow(input: Any, exponent: Any) -> Tensor:  # (PyTorch's name; shadows the builtin here)
    """input ** exponent, elementwise, as torch.pow; either may be a number."""
    input, exponent = _pair("pow", input, exponent)
    return input ** exponent


def neg(input: Any) -> Tensor:
    """−input, as torch.neg."""
    return -_as_tensor("neg", input)


def div(input: Any, other: Any, *, rounding_mode: str | None = None) -> Tensor:
    """input / other, as torch.div: true division by default (integers give floats);
    rounding_mode='trunc' rounds the quotient toward zero and 'floor' down, and integer
    tensors stay integers. A rounded quotient is a step function: its gradient is 0."""
    input, other = _pair("div", input, other)
    if rounding_mode is None:
        return input / other
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                           f"{rounding_mode!r}")
    if isinstance(input, Tensor):
        a, b = input._operands(other, "div")
    else:
        b, a = other._operands(input, "div")
    if a.dtype.kind == "b":
        raise NotImplementedError(f"div: rounding_mode={rounding_mode!r} needs numbers, not "
                                  "bool tensors; convert first, e.g. x.to(np.int64)")
    if a.dtype.kind in "iu" and not np.all(b.data):
        raise RuntimeError(f"div: integer division by zero (rounding_mode={rounding_mode!r}); "
                           "floats give ±inf instead, e.g. x.float()")
    return DivRounding.apply(a, b, rounding_mode=rounding_mode)


class DivRounding(Function):
    """x / y rounded to a whole number: toward zero ('trunc') or down ('floor')."""

    name = "div"

    def forward(self, x, y, rounding_mode):
        with np.errstate(divide="ignore", invalid="ignore"):  # x/0: ±inf or nan, as PyTorch
            if rounding_mode == "floor":
                return np.floor_divide(x, y)
            if x.dtype.kind == "f":
                return np.trunc(x / y)
            quotient = np.floor_divide(x, y)  # integers: floor, then one up where it rounded
            return quotient + ((quotient * y != x) & ((x < 0) != (y < 0)))  # below zero

    # a rounded quotient is flat between its jumps: ∂/∂x = ∂/∂y = 0 (as PyTorch gives)
    def backward(self, grad, out, x, y):
        dx = _zeros(grad, x.shape) if self.needs_input_grad[0] else None
        dy = _zeros(grad, y.shape) if self.needs_input_grad[1] else None
        return dx, dy

    # d round(x / y) = 0: flat between its jumps, so the output does not move (None: zero)
    def jvp(self, tangents, out, x, y):
        return None


def _zeros(like: Any, shape: tuple[int, ...]) -> Any:
    """A gradient of zeros of `shape`, as an array or a (constant) Tensor like `like`."""
    zeros = np.zeros(shape, values(like).dtype)
    return Tensor._wrap(zeros) if isinstance(like, Tensor) else zeros
