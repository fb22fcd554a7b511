package profile

import (
	"regexp"
	"strings"
)

// wrappers are kernel templates whose own name says nothing: the kernel is
// their first template argument (CUTLASS's launch wrappers, FlashAttention
// 3's architecture guards).
var wrappers = regexp.MustCompile(`^(cutlass::Kernel2?|cutlass::device_kernel|(flash::)?enable_sm\d+[a-z0-9_]*)$`)

var (
	// Triton before 3.0 appended the signature's specialisation of each
	// argument: _fwd_kernel_0d1d2d3de4de.
	tritonSignature = regexp.MustCompile(`_(\d+(de|d|c))(\d+(de|d|c))+$`)
	// Inductor numbers the kernels it generates: triton_poi_fused_add_mul_0.
	tritonNumber = regexp.MustCompile(`^(triton_.*?)_\d+$`)
	// A hash of the source or the compile options: kernel_5f2a9c0d1e3b4a67.
	hashSuffix = regexp.MustCompile(`_[0-9a-f]{16,}$`)
	// cuBLAS tags its generated kernels with the library: ..._kernel__5x_cublas.
	cublasTag = regexp.MustCompile(`_+\d+x_cublas$`)
	spaces    = regexp.MustCompile(`\s+`)
)

const anonymous = "(anonymous namespace)"

// Normalise is the name under which a kernel or operator of one library
// version matches the same one of another. Rules, in order:
//
//   - white space is trimmed and runs of it become one space;
//   - an argument list goes, from the first "(" outside template
//     arguments (`(anonymous namespace)` is kept as part of the name);
//   - template arguments go, nested ones too: `at::native::
//     vectorized_elementwise_kernel<4, FillFunctor<float>, ...>(int, ...)`
//     → `at::native::vectorized_elementwise_kernel`;
//   - a leading return type `void ` goes;
//   - a launch wrapper (`cutlass::Kernel2<K>`, `cutlass::device_kernel<K>`,
//     `flash::enable_sm90_or_later<K>`) is replaced by the normalised K;
//   - generated suffixes go: Inductor's kernel number
//     (`triton_poi_fused_add_mul_0` and `_1` → `triton_poi_fused_add_mul`),
//     old Triton's signature (`_attn_fwd_0d1d2d3de` → `_attn_fwd`), a hex
//     hash of 16 digits or more (`kernel_5f2a9c0d1e3b4a67` → `kernel`) and
//     cuBLAS's library tag (`..._kernel__5x_cublas` → `..._kernel`).
//
// Tile shapes in cuBLAS and CUTLASS names stay: a different tile is a
// different kernel, and a change of the heuristic's pick shows as one kernel
// gone and one added. A name that would become empty is kept as written.
func Normalise(name string) string {
	s := spaces.ReplaceAllString(strings.TrimSpace(name), " ")
	out := s
	for range 4 { // a wrapper of a wrapper, at most this deep
		base, firstArg := stripTemplates(out)
		base = strings.TrimSpace(strings.TrimPrefix(base, "void "))
		if wrappers.MatchString(base) && firstArg != "" {
			out = firstArg
			continue
		}
		out = base
		break
	}
	out = cublasTag.ReplaceAllString(out, "")
	out = tritonSignature.ReplaceAllString(out, "")
	out = hashSuffix.ReplaceAllString(out, "")
	if m := tritonNumber.FindStringSubmatch(out); m != nil {
		out = m[1]
	}
	if out == "" {
		return s
	}
	return out
}

// stripTemplates returns s without its template arguments and from its
// argument list on, and its first top-level template argument.
func stripTemplates(s string) (base, firstArg string) {
	var b, arg strings.Builder
	depth, args := 0, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '(' && strings.HasPrefix(s[i:], anonymous):
			if depth == 0 {
				b.WriteString(anonymous)
			} else if args == 1 {
				arg.WriteString(anonymous)
			}
			i += len(anonymous) - 1
			continue
		case c == '(' && depth == 0:
			return b.String(), strings.TrimSpace(arg.String())
		case c == '<':
			depth++
			if depth == 1 {
				args++
				continue
			}
		case c == '>':
			if depth == 0 {
				break // an unbalanced '>' is part of the name
			}
			depth--
			if depth == 0 {
				continue
			}
		case c == ',' && depth == 1:
			args++
			continue
		}
		switch {
		case depth == 0:
			b.WriteByte(c)
		case args == 1:
			arg.WriteByte(c)
		}
	}
	return b.String(), strings.TrimSpace(arg.String())
}
