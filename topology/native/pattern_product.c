/* y = scale * A x for the 0/1 matrix A given by its CSR pattern alone (rows start .. stop), and
 * the sum of y: the product of each Lanczos step of topology/metrics/lanczos.py, reading no
 * stored values (they are all 1). Rows are summed in order, so the result does not depend on
 * how the caller splits the rows over threads. docs/large-graphs.md, "How the metrics scale".
 */
#include <stdint.h>

#define PATTERN_PRODUCT(NAME, INDEX)                                                                  \
    double NAME(const INDEX *indptr, const INDEX *indices, const double *x, double *y, int64_t start, \
                int64_t stop, double scale) {                                                         \
        double total = 0.0;                                                                           \
        for (int64_t i = start; i < stop; i++) {                                                      \
            double sum = 0.0;                                                                         \
            for (INDEX k = indptr[i]; k < indptr[i + 1]; k++) sum += x[indices[k]];                   \
            y[i] = sum * scale;                                                                       \
            total += y[i];                                                                            \
        }                                                                                             \
        return total;                                                                                 \
    }

PATTERN_PRODUCT(pattern_product32, int32_t)
PATTERN_PRODUCT(pattern_product64, int64_t)
