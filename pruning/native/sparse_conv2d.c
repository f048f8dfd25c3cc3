/* A masked 2-D convolution computed from its kept (output, input channel) pairs only.
 *
 * The layer's weight is held as a CSR matrix over channels: output o reads input channels
 * indices[indptr[o] .. indptr[o+1]), each with its kh x kw taps. For every sample the input is
 * copied once into zero-padded planes, split by stride phase, so that every tap of every output
 * row is a contiguous run of the plane; each output plane is then a sum of shifted, scaled
 * input planes, computed eight positions at a time in registers. Inputs and outputs may be laid
 * out NCHW or NHWC (channels_last). Work is split over samples and blocks of outputs with
 * OpenMP, which binds to the runtime PyTorch has loaded (its libgomp) so that the two share one
 * pool of threads. How it is built, chosen and tested: docs/compile.md, "The native kernel".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

typedef float vec __attribute__((vector_size(32)));
#define LANES 8
#define GROUP 8   /* vectors accumulated at once: 64 output positions */
#define OBLOCK 16 /* outputs per work item */

typedef struct {
    const float *x;
    int64_t n, c, h, w, sx[4];
    float *y;
    int64_t o, ho, wo, sy[4];
    const int64_t *indptr, *indices;
    const float *weights, *bias;
    int64_t kh, kw, sh, sw, ph, pw;
    int64_t hq, wq;     /* rows and columns of one stride phase of the padded input */
    int64_t cplane;     /* floats per input channel: sh * sw phases of hq x wq */
    int64_t vectors;    /* LANES-wide vectors covering ho rows of wq positions */
    int64_t aplane;     /* floats per output plane in the accumulator */
    int64_t *taps;      /* offset of tap (u, v) in a channel's planes */
    int64_t *rows;      /* offset of input row r in a channel's planes */
    int64_t *columns;   /* offset of input column c in a row */
} layer_t;

static inline vec load(const float *p) { vec v; memcpy(&v, p, sizeof v); return v; }
static inline void store(float *p, vec v) { memcpy(p, &v, sizeof v); }

/* Transposes eight vectors in place: r[i][k] becomes r[k][i]. */
static inline void transpose8(vec r[8]) {
    typedef int32_t mask __attribute__((vector_size(32)));
    const mask lo = {0, 8, 1, 9, 4, 12, 5, 13}, hi = {2, 10, 3, 11, 6, 14, 7, 15};
    const mask pairs_lo = {0, 1, 8, 9, 4, 5, 12, 13}, pairs_hi = {2, 3, 10, 11, 6, 7, 14, 15};
    const mask halves_lo = {0, 1, 2, 3, 8, 9, 10, 11}, halves_hi = {4, 5, 6, 7, 12, 13, 14, 15};
    vec a[8], b[8];
    for (int i = 0; i < 4; i++) {
        a[2 * i] = __builtin_shuffle(r[2 * i], r[2 * i + 1], lo);
        a[2 * i + 1] = __builtin_shuffle(r[2 * i], r[2 * i + 1], hi);
    }
    for (int i = 0; i < 8; i += 4) {
        b[i] = __builtin_shuffle(a[i], a[i + 2], pairs_lo);
        b[i + 1] = __builtin_shuffle(a[i], a[i + 2], pairs_hi);
        b[i + 2] = __builtin_shuffle(a[i + 1], a[i + 3], pairs_lo);
        b[i + 3] = __builtin_shuffle(a[i + 1], a[i + 3], pairs_hi);
    }
    for (int i = 0; i < 4; i++) {
        r[i] = __builtin_shuffle(b[i], b[i + 4], halves_lo);
        r[i + 4] = __builtin_shuffle(b[i], b[i + 4], halves_hi);
    }
}

/* Sample n of an NHWC input (channels contiguous) into the planes, 8 x 8 tiles transposed. */
static void fill_channels_last(const layer_t *l, float *buf, const float *xn) {
    for (int64_t r = 0; r < l->h; r++) {
        const float *row = xn + r * l->sx[2];
        int64_t col0 = 0;
        for (; col0 + LANES <= l->w; col0 += LANES) {
            int64_t c0 = 0;
            for (; c0 + LANES <= l->c; c0 += LANES) {
                vec t[8];
                for (int i = 0; i < 8; i++) t[i] = load(row + (col0 + i) * l->sx[3] + c0);
                transpose8(t);
                float *dst = buf + c0 * l->cplane + l->rows[r];
                if (l->sw == 1)
                    for (int k = 0; k < 8; k++) store(dst + k * l->cplane + l->columns[col0], t[k]);
                else
                    for (int k = 0; k < 8; k++)
                        for (int i = 0; i < 8; i++) dst[k * l->cplane + l->columns[col0 + i]] = t[k][i];
            }
            for (; c0 < l->c; c0++)
                for (int64_t col = col0; col < col0 + LANES; col++)
                    buf[c0 * l->cplane + l->rows[r] + l->columns[col]] = row[col * l->sx[3] + c0];
        }
        for (int64_t col = col0; col < l->w; col++)
            for (int64_t c = 0; c < l->c; c++)
                buf[c * l->cplane + l->rows[r] + l->columns[col]] = row[col * l->sx[3] + c * l->sx[1]];
    }
}

/* Sample n of an NCHW input (rows contiguous) into the planes, row by row. */
static void fill_rows(const layer_t *l, float *buf, const float *xn) {
    for (int64_t c = 0; c < l->c; c++)
        for (int64_t r = 0; r < l->h; r++) {
            const float *src = xn + c * l->sx[1] + r * l->sx[2];
            float *dst = buf + c * l->cplane + l->rows[r];
            if (l->sw == 1 && l->sx[3] == 1) {
                memcpy(dst + l->columns[0], src, l->w * sizeof(float));
                continue;
            }
            for (int64_t col = 0; col < l->w; col++) dst[l->columns[col]] = src[col * l->sx[3]];
        }
}

/* Output plane of one output channel, `count` vectors from position p, kept in registers. */
static inline __attribute__((always_inline)) void accumulate(
    const layer_t *l, const float *buf, float *a, int64_t o, float init, int64_t p, const int count) {
    vec s[GROUP];
    for (int g = 0; g < count; g++) s[g] = (vec){0} + init;
    int64_t kk = l->kh * l->kw;
    for (int64_t e = l->indptr[o]; e < l->indptr[o + 1]; e++) {
        const float *base = buf + l->indices[e] * l->cplane + p;
        const float *wt = l->weights + e * kk;
        for (int64_t t = 0; t < kk; t++) {
            const float *in = base + l->taps[t];
            float weight = wt[t];
            for (int g = 0; g < count; g++) s[g] += weight * load(in + g * LANES);
        }
    }
    for (int g = 0; g < count; g++) store(a + p + g * LANES, s[g]);
}

static void compute(const layer_t *l, const float *buf, float *acc, int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o++) {
        float *a = acc + (o - o0) * l->aplane;
        float init = l->bias ? l->bias[o] : 0.0f;
        int64_t v = 0;
        for (; v + GROUP <= l->vectors; v += GROUP) accumulate(l, buf, a, o, init, v * LANES, GROUP);
        if (v + 4 <= l->vectors) { accumulate(l, buf, a, o, init, v * LANES, 4); v += 4; }
        if (v + 2 <= l->vectors) { accumulate(l, buf, a, o, init, v * LANES, 2); v += 2; }
        if (v < l->vectors) accumulate(l, buf, a, o, init, v * LANES, 1);
    }
}

static void write_rows(const layer_t *l, const float *acc, float *yn, int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; o++)
        for (int64_t r = 0; r < l->ho; r++) {
            const float *src = acc + (o - o0) * l->aplane + r * l->wq;
            float *dst = yn + o * l->sy[1] + r * l->sy[2];
            if (l->sy[3] == 1) memcpy(dst, src, l->wo * sizeof(float));
            else for (int64_t q = 0; q < l->wo; q++) dst[q * l->sy[3]] = src[q];
        }
}

static void write_channels_last(const layer_t *l, const float *acc, float *yn, int64_t o0, int64_t o1) {
    for (int64_t r = 0; r < l->ho; r++) {
        int64_t q0 = 0;
        for (; q0 + LANES <= l->wo; q0 += LANES) {
            int64_t o = o0;
            for (; o + LANES <= o1; o += LANES) {
                vec t[8];
                for (int k = 0; k < 8; k++) t[k] = load(acc + (o + k - o0) * l->aplane + r * l->wq + q0);
                transpose8(t);
                for (int i = 0; i < 8; i++) store(yn + r * l->sy[2] + (q0 + i) * l->sy[3] + o, t[i]);
            }
            for (; o < o1; o++)
                for (int64_t q = q0; q < q0 + LANES; q++)
                    yn[r * l->sy[2] + q * l->sy[3] + o] = acc[(o - o0) * l->aplane + r * l->wq + q];
        }
        for (int64_t q = q0; q < l->wo; q++)
            for (int64_t o = o0; o < o1; o++)
                yn[r * l->sy[2] + q * l->sy[3] + o * l->sy[1]] = acc[(o - o0) * l->aplane + r * l->wq + q];
    }
}

/* Work items begin .. end of (sample, block of OBLOCK outputs), in that order. */
static int run(const layer_t *l, int64_t begin, int64_t end) {
    /* one spare plane: vectors past the last valid position read it, never outside the buffer */
    float *buf = calloc((l->c + 1) * l->cplane + LANES * GROUP, sizeof(float));
    float *acc = malloc(OBLOCK * l->aplane * sizeof(float));
    if (!buf || !acc) { free(buf); free(acc); return 1; }
    int64_t blocks = (l->o + OBLOCK - 1) / OBLOCK, filled = -1;
    int nhwc_in = l->sx[1] == 1 && l->c > 1, nhwc_out = l->sy[1] == 1 && l->o > 1;
    for (int64_t item = begin; item < end; item++) {
        int64_t n = item / blocks, o0 = (item % blocks) * OBLOCK;
        int64_t o1 = o0 + OBLOCK < l->o ? o0 + OBLOCK : l->o;
        if (n != filled) {
            const float *xn = l->x + n * l->sx[0];
            if (nhwc_in) fill_channels_last(l, buf, xn); else fill_rows(l, buf, xn);
            filled = n;
        }
        compute(l, buf, acc, o0, o1);
        float *yn = l->y + n * l->sy[0];
        if (nhwc_out) write_channels_last(l, acc, yn, o0, o1); else write_rows(l, acc, yn, o0, o1);
    }
    free(buf);
    free(acc);
    return 0;
}

/* Geometry: kh, kw, stride h, stride w, padding h, padding w. Returns 0, or 1 if out of memory. */
int sparse_conv2d(const float *x, const int64_t *x_shape, const int64_t *x_strides, float *y,
                  const int64_t *y_shape, const int64_t *y_strides, const int64_t *indptr,
                  const int64_t *indices, const float *weights, const float *bias,
                  const int64_t *geometry, int64_t threads) {
    layer_t *l = calloc(1, sizeof(layer_t));
    if (!l) return 1;
    l->x = x; l->n = x_shape[0]; l->c = x_shape[1]; l->h = x_shape[2]; l->w = x_shape[3];
    memcpy(l->sx, x_strides, sizeof l->sx);
    l->y = y; l->o = y_shape[1]; l->ho = y_shape[2]; l->wo = y_shape[3];
    memcpy(l->sy, y_strides, sizeof l->sy);
    l->indptr = indptr; l->indices = indices; l->weights = weights; l->bias = bias;
    l->kh = geometry[0]; l->kw = geometry[1]; l->sh = geometry[2]; l->sw = geometry[3];
    l->ph = geometry[4]; l->pw = geometry[5];
    l->taps = malloc(l->kh * l->kw * sizeof(int64_t));
    l->rows = malloc((l->h + 1) * sizeof(int64_t));
    l->columns = malloc((l->w + 1) * sizeof(int64_t));
    if (!l->taps || !l->rows || !l->columns) {
        free(l->taps); free(l->rows); free(l->columns); free(l);
        return 1;
    }
    l->hq = (l->h + 2 * l->ph + l->sh - 1) / l->sh;
    l->wq = (l->w + 2 * l->pw + l->sw - 1) / l->sw;
    l->cplane = l->sh * l->sw * l->hq * l->wq;
    l->vectors = (l->ho * l->wq + LANES - 1) / LANES;
    l->aplane = l->vectors * LANES + LANES; /* not a multiple of 4 KiB apart: no cache aliasing */
    for (int64_t u = 0; u < l->kh; u++)
        for (int64_t v = 0; v < l->kw; v++)
            l->taps[u * l->kw + v] = (((u % l->sh) * l->sw + v % l->sw) * l->hq + u / l->sh) * l->wq + v / l->sw;
    for (int64_t r = 0; r < l->h; r++)
        l->rows[r] = (((r + l->ph) % l->sh) * l->sw * l->hq + (r + l->ph) / l->sh) * l->wq;
    for (int64_t c = 0; c < l->w; c++)
        l->columns[c] = ((c + l->pw) % l->sw) * l->hq * l->wq + (c + l->pw) / l->sw;
    int64_t items = l->n * ((l->o + OBLOCK - 1) / OBLOCK);
    if (threads > items) threads = items;
    if (threads < 1) threads = 1;
    int failed = 0;
    #pragma omp parallel num_threads(threads) reduction(|: failed)
    {
        int64_t t = omp_get_thread_num(), count = omp_get_num_threads();
        failed |= run(l, items * t / count, items * (t + 1) / count);
    }
    free(l->taps); free(l->rows); free(l->columns); free(l);
    return failed;
}
