/* W1 reference, not a contender: N reads on one libcurl easy handle from C, body discarded, no
 * decoding. What any libcurl-based client pays per read before doing anything of its own;
 * bench/run.sh builds it. libcurl_floor URL N */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static size_t discard(char *data, size_t size, size_t n, void *ud) {
    (void)data;
    (void)ud;
    return size * n;
}

int main(int argc, char **argv) {
    struct curl_slist *headers = NULL;
    struct timespec a, b;
    long status = 0;
    double seconds;
    int n, i;
    CURL *curl;
    if (argc != 3 || (n = atoi(argv[2])) <= 0) {
        fprintf(stderr, "usage: libcurl_floor URL N\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    curl = curl_easy_init();
    headers = curl_slist_append(headers, "Accept: application/json");
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_USERPWD, "BENCHKEY0123456789:bench-secret-not-real");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (i = 0; i < n; i++) {
        /* Set per read, as a client that reads different paths must. */
        curl_easy_setopt(curl, CURLOPT_URL, argv[1]);
        if (curl_easy_perform(curl) != CURLE_OK) return 1;
        curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
        if (status != 200) return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    seconds = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    printf("result contender=libcurl-c workload=W1 n=%d seconds=%.6f ok=%d\n", n, seconds, n);
    curl_easy_cleanup(curl);
    curl_slist_free_all(headers);
    curl_global_cleanup();
    return 0;
}
