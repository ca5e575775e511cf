/* connectstatus.Transfer: one HTTP exchange at a time on its own libcurl easy handle, borrowing a
 * connectstatus.Client's configuration. It runs blocking (perform) or inside a connectstatus.Multi
 * (cs_multi.c). libcurl callbacks only touch C memory; Lua values are built after the exchange,
 * so no Lua error can ever longjmp through libcurl. */
#include <poll.h>

#define CS_TRANSFER "connectstatus.Transfer"
#define CS_MAIN_THREAD "connectstatus.main_thread" /* a registry field on 5.1 */
#define CS_BODY_INITIAL (16 * 1024)
#define CS_BODY_KEEP (16 * 1024 * 1024) /* larger buffers are released after the exchange */
#define CS_SNIPPET_MAX 512
#define CS_HEADER_VALUE_MAX 128

/* Lua's interpreter answers Ctrl-C by setting a hook on its main thread, and on 5.1 to 5.4 hooks
 * are per thread: a call that blocks inside a coroutine watches both. */
typedef struct {
    lua_State *L, *main;
    int mask, main_mask;
} cs_watch;

static lua_State *cs_main_thread(lua_State *L) {
    lua_State *main;
#if LUA_VERSION_NUM >= 502
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
#else
    lua_getfield(L, LUA_REGISTRYINDEX, CS_MAIN_THREAD);
#endif
    main = lua_tothread(L, -1);
    lua_pop(L, 1);
    return main != NULL ? main : L;
}

static void cs_watch_start(lua_State *L, cs_watch *w) {
    w->L = L;
    w->main = cs_main_thread(L);
    w->mask = lua_gethookmask(L);
    w->main_mask = lua_gethookmask(w->main);
}

/* A read of the hook masks only: safe from a libcurl callback. */
static int cs_watch_interrupted(const cs_watch *w) {
    return lua_gethookmask(w->L) != w->mask || lua_gethookmask(w->main) != w->main_mask;
}

typedef struct {
    char request_id[CS_HEADER_VALUE_MAX];
    char retry_after[CS_HEADER_VALUE_MAX];
    char rl_limit[32];
    char rl_remaining[32];
    char rl_reset[32];
} cs_meta;

typedef struct {
    CURL *curl; /* NULL once closed */
    cs_client *client;
    /* where its connections are listed: the client's, or its multi's */
    cs_sockets *sockets;
    int client_ref; /* keeps the client's userdata alive while this transfer may use it */
    int busy;       /* started and not yet answered */
    int stale;      /* the kept-alive connection had unasked bytes: resend on a fresh one */
    int fresh;      /* this exchange runs on a new connection */
    int resent;     /* it already went out a second time */
    int performed;  /* curl_easy_perform ran: its wake-up socket pair exists, close-on-exec */
    CURLcode rc;
    cs_watch watch; /* for an interruption (Ctrl-C) during perform; watch.L is NULL otherwise */
    char *url;
    size_t url_cap;
    char *payload; /* the request body; libcurl reads it during the exchange */
    char *body;
    size_t body_len, body_cap;
    int too_large;
    cs_meta meta;
    char errbuf[CURL_ERROR_SIZE];
} cs_transfer;

static void cs_transfer_release(lua_State *L, cs_transfer *t) {
    if (t->curl != NULL) curl_easy_cleanup(t->curl);
    t->curl = NULL;
    if (t->client != NULL && --t->client->borrowers == 0 && !t->client->open)
        cs_client_free_resources(t->client);
    t->client = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, t->client_ref);
    t->client_ref = LUA_NOREF;
    free(t->url);
    free(t->payload);
    free(t->body);
    t->url = t->payload = t->body = NULL;
    t->url_cap = t->body_cap = t->body_len = 0;
}

static cs_transfer *cs_check_transfer(lua_State *L) {
    cs_transfer *t = (cs_transfer *)luaL_checkudata(L, 1, CS_TRANSFER);
    if (t->curl == NULL) luaL_error(L, "attempt to use a closed connectstatus transfer");
    return t;
}

/* ---- libcurl callbacks: C memory only ---- */

static size_t cs_on_body(char *data, size_t size, size_t n, void *ud) {
    cs_transfer *t = (cs_transfer *)ud;
    size_t len = size * n, max = t->client->body_max;
    if (len > max - t->body_len) {
        t->too_large = 1;
        return 0;
    }
    if (t->body_len + len > t->body_cap) {
        size_t cap = t->body_cap ? t->body_cap : CS_BODY_INITIAL;
        char *grown;
        while (cap < t->body_len + len)
            cap *= 2;
        if (cap > max) cap = max;
        grown = (char *)realloc(t->body, cap);
        if (grown == NULL) return 0;
        t->body = grown;
        t->body_cap = cap;
    }
    memcpy(t->body + t->body_len, data, len);
    t->body_len += len;
    return len;
}

static void cs_copy_value(char *dst, size_t cap, const char *v, size_t len) {
    while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
        len--;
    if (len >= cap) len = cap - 1;
    memcpy(dst, v, len);
    dst[len] = '\0';
}

static int cs_header_is(const char *line, size_t len, const char *name, size_t *value_at) {
    size_t n = strlen(name), i;
    if (len <= n || line[n] != ':') return 0;
    for (i = 0; i < n; i++) {
        char ch = line[i];
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        if (ch != name[i]) return 0;
    }
    i = n + 1;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    *value_at = i;
    return 1;
}

static size_t cs_on_header(char *line, size_t size, size_t n, void *ud) {
    cs_transfer *t = (cs_transfer *)ud;
    size_t len = size * n, at;
    cs_meta *m = &t->meta;
    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0) {
        memset(m, 0, sizeof *m); /* a new response (100 Continue) starts afresh */
    } else if (cs_header_is(line, len, "x-request-id", &at)) {
        cs_copy_value(m->request_id, sizeof m->request_id, line + at, len - at);
    } else if (cs_header_is(line, len, "retry-after", &at)) {
        cs_copy_value(m->retry_after, sizeof m->retry_after, line + at, len - at);
    } else if (cs_header_is(line, len, "x-ratelimit-limit", &at)) {
        cs_copy_value(m->rl_limit, sizeof m->rl_limit, line + at, len - at);
    } else if (cs_header_is(line, len, "x-ratelimit-remaining", &at)) {
        cs_copy_value(m->rl_remaining, sizeof m->rl_remaining, line + at, len - at);
    } else if (cs_header_is(line, len, "x-ratelimit-reset", &at)) {
        cs_copy_value(m->rl_reset, sizeof m->rl_reset, line + at, len - at);
    }
    return len;
}

/* A kept-alive connection must be silent before a request goes out on it: bytes the server sent
 * unasked (a stale answer, a load balancer's 408 before it closes) would be read as the answer
 * to this request. Such a connection is dropped and the request sent on a fresh one. libcurl
 * names the connection only by its ports here, so the socket list of the cache it is in (the
 * client's, or the multi's) finds it. */
static int cs_on_prereq(void *ud, char *ip, char *local_ip, int port, int local_port) {
    cs_transfer *t = (cs_transfer *)ud;
    long opened = 0;
    curl_socket_t sock;
    struct pollfd p;
    (void)ip;
    (void)local_ip;
    /* Only a reused connection (none opened for this exchange) is checked: a new TLS 1.3 one
     * may well have session tickets waiting. */
    curl_easy_getinfo(t->curl, CURLINFO_NUM_CONNECTS, &opened);
    if (t->fresh || opened > 0) return CURL_PREREQFUNC_OK;
    sock = cs_sockets_find(t->sockets, local_port, port);
    if (sock == CURL_SOCKET_BAD) return CURL_PREREQFUNC_OK;
    p.fd = sock;
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, 0) <= 0) return CURL_PREREQFUNC_OK;
    /* Shut down, not closed: libcurl still owns the descriptor, and now sees the connection dead
     * instead of keeping it for the next request. */
    shutdown(sock, SHUT_RDWR);
    t->stale = 1;
    return CURL_PREREQFUNC_ABORT;
}

/* A blocking exchange stops on an interruption (cs_watch), so that the hook can raise. */
static int cs_on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                          curl_off_t ulnow) {
    const cs_transfer *t = (const cs_transfer *)ud;
    (void)dltotal;
    (void)dlnow;
    (void)ultotal;
    (void)ulnow;
    return t->watch.L != NULL && cs_watch_interrupted(&t->watch);
}

/* Sockets are close-on-exec, so a program started with io.popen holds none of them. */
static curl_socket_t cs_open_socket(void *ud, curlsocktype purpose, struct curl_sockaddr *addr) {
    cs_sockets *s = (cs_sockets *)ud;
    curl_socket_t sock = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    (void)purpose;
    if (sock != CURL_SOCKET_BAD)
        cs_sockets_add(s, sock);
    else if (errno == EMFILE || errno == ENFILE)
        s->exhausted = 1;
    return sock;
}

static int cs_close_socket(void *ud, curl_socket_t sock) {
    cs_sockets_remove((cs_sockets *)ud, sock);
    return close(sock);
}

/* ---- construction ---- */

static void cs_set_protocols(CURL *curl) {
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

/* The connections of a blocking exchange stay in the easy handle, listed with its client; those
 * of a multi's transfers stay in the multi, where any client's transfer may reuse them, so a
 * multi keeps a list of its own. */
static void cs_use_sockets(cs_transfer *t, cs_sockets *s) {
    t->sockets = s;
    curl_easy_setopt(t->curl, CURLOPT_OPENSOCKETDATA, s);
    curl_easy_setopt(t->curl, CURLOPT_CLOSESOCKETDATA, s);
}

static void cs_setup_easy(cs_transfer *t) {
    CURL *e = t->curl;
    const cs_client *c = t->client;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L); /* the Lua policy decides about redirects */
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cs_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, cs_on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, t);
    curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, cs_open_socket);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, cs_close_socket);
    cs_use_sockets(t, c->sockets);
    curl_easy_setopt(e, CURLOPT_PREREQFUNCTION, cs_on_prereq);
    curl_easy_setopt(e, CURLOPT_PREREQDATA, t);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, cs_on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, t);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_PRIVATE, t);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    cs_set_protocols(e);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->cafile != NULL) curl_easy_setopt(e, CURLOPT_CAINFO, c->cafile);
    if (c->capath != NULL) curl_easy_setopt(e, CURLOPT_CAPATH, c->capath);
    if (c->proxy != NULL) curl_easy_setopt(e, CURLOPT_PROXY, c->proxy);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->stall_s);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->body_max);
}

/* client:transfer() -> a new connectstatus.Transfer for this client */
static int cs_l_new_transfer(lua_State *L) {
    cs_client *c = cs_check_client(L, 1);
    cs_transfer *t;
    lua_settop(L, 1);
    /* Created closed first, so __gc cleans up whatever acquisition managed before an error. */
    t = (cs_transfer *)lua_newuserdata(L, sizeof *t);
    memset(t, 0, sizeof *t);
    t->client_ref = LUA_NOREF;
    luaL_setmetatable(L, CS_TRANSFER);
    lua_pushvalue(L, 1);
    t->client_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    t->client = c;
    c->borrowers++;
    t->curl = curl_easy_init();
    if (t->curl == NULL) return luaL_error(L, "cannot create a libcurl handle");
    cs_setup_easy(t);
    return 1;
}

/* ---- one exchange ---- */

static int cs_same_origin(const cs_client *c, const char *url) {
    return cs_origin_length(url) == c->origin_len &&
           strncmp(url, c->base_url, c->origin_len) == 0 && url[c->origin_len] == '/';
}

/* The URL is base_url .. target, or target itself when it is absolute (a redirect the policy
 * chose to follow, which must stay on the base URL's origin). */
static void cs_set_url(lua_State *L, cs_transfer *t, const char *target, size_t tlen,
                       int absolute) {
    const cs_client *c = t->client;
    size_t prefix = absolute ? 0 : c->base_len;
    if (strlen(target) != tlen || strcspn(target, " \r\n\t") != tlen)
        luaL_error(L, "request target contains spaces or control characters");
    if (absolute && !cs_same_origin(c, target))
        luaL_error(L, "absolute request target is not on the base URL's origin");
    if (prefix + tlen + 1 > t->url_cap) {
        size_t cap = prefix + tlen + 64;
        char *grown = (char *)realloc(t->url, cap);
        if (grown == NULL) luaL_error(L, "out of memory");
        t->url = grown;
        t->url_cap = cap;
    }
    memcpy(t->url, c->base_url, prefix);
    memcpy(t->url + prefix, target, tlen);
    t->url[prefix + tlen] = '\0';
    curl_easy_setopt(t->curl, CURLOPT_URL, t->url);
}

/* Sets the verb and body; returns whether the exchange needs a fresh connection. libcurl
 * silently sends a request again when its reused connection dies before an answer; a POST or
 * PATCH may have reached the server by then, so each gets a fresh connection, on which libcurl
 * never does that. */
static int cs_set_method(lua_State *L, cs_transfer *t, const char *method, const char *body,
                         size_t blen) {
    static const char *const methods[] = {"GET", "PUT", "POST", "PATCH", "DELETE", NULL};
    int i;
    for (i = 0; methods[i] != NULL && strcmp(methods[i], method) != 0; i++) {
    }
    if (methods[i] == NULL) luaL_error(L, "unsupported HTTP method '%s'", method);
    free(t->payload);
    t->payload = NULL;
    if (i == 0 && body == NULL) {
        curl_easy_setopt(t->curl, CURLOPT_HTTPGET, 1L);
        curl_easy_setopt(t->curl, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER, t->client->headers);
        return 0;
    }
    t->payload = (char *)malloc(blen + 1);
    if (t->payload == NULL) luaL_error(L, "out of memory");
    if (blen > 0) memcpy(t->payload, body, blen);
    /* POSTFIELDS sends the body (Content-Length: 0 when there is none); the verb is ours. */
    curl_easy_setopt(t->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    curl_easy_setopt(t->curl, CURLOPT_POSTFIELDS, t->payload);
    curl_easy_setopt(t->curl, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(t->curl, CURLOPT_HTTPHEADER,
                     body != NULL ? t->client->json_headers : t->client->headers);
    return i == 2 || i == 3;
}

/* Clears what the last exchange left; with fresh, the next one opens a new connection. */
static void cs_reset_exchange(cs_transfer *t, int fresh) {
    t->body_len = 0;
    t->too_large = 0;
    t->stale = 0;
    t->fresh = fresh;
    t->errbuf[0] = '\0';
    t->rc = CURLE_OK;
    memset(&t->meta, 0, sizeof t->meta);
    curl_easy_setopt(t->curl, CURLOPT_FRESH_CONNECT, (long)fresh);
}

/* t:start(method, target, body|nil, timeout, absolute): prepares the next exchange. */
static int cs_l_transfer_start(lua_State *L) {
    cs_transfer *t = cs_check_transfer(L);
    const char *method = luaL_checkstring(L, 2);
    size_t tlen, blen = 0;
    const char *target = luaL_checklstring(L, 3, &tlen);
    const char *body = luaL_optlstring(L, 4, NULL, &blen);
    lua_Number timeout = luaL_checknumber(L, 5);
    int fresh;
    luaL_argcheck(L, timeout > 0 && timeout <= 86400, 5, "timeout must be in (0, 86400] seconds");
    if (t->busy) return luaL_error(L, "transfer already in flight");
    if (!t->client->open) return luaL_error(L, "attempt to use a closed connectstatus client");
    cs_set_url(L, t, target, tlen, lua_toboolean(L, 6));
    fresh = cs_set_method(L, t, method, body, blen);
    curl_easy_setopt(t->curl, CURLOPT_TIMEOUT_MS,
                     cs_ms(timeout) < t->client->timeout_ms ? cs_ms(timeout)
                                                            : t->client->timeout_ms);
    cs_reset_exchange(t, fresh);
    t->resent = 0;
    t->busy = 1;
    return 0;
}

static const char *cs_kind_of(CURLcode rc, int too_large) {
    if (too_large) return "too_large";
    switch (rc) {
    case CURLE_ABORTED_BY_CALLBACK:
        return "interrupted";
    case CURLE_OUT_OF_MEMORY:
        /* what libcurl answers a header line beyond its 100 KiB limit with */
        return "too_large";
    case CURLE_OPERATION_TIMEDOUT:
        return "timeout";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        return "connect";
    case CURLE_FILESIZE_EXCEEDED:
        return "too_large";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_INVALIDCERTSTATUS:
        return "tls";
    default:
        return "transport";
    }
}

static void cs_set_string(lua_State *L, const char *key, const char *value) {
    if (value[0] == '\0') return;
    lua_pushstring(L, value);
    lua_setfield(L, -2, key);
}

static void cs_push_meta(lua_State *L, const cs_transfer *t, long status) {
    const cs_meta *m = &t->meta;
    char *location = NULL;
    cs_set_string(L, "request_id", m->request_id);
    cs_set_string(L, "retry_after", m->retry_after);
    if (m->rl_limit[0] || m->rl_remaining[0] || m->rl_reset[0]) {
        lua_createtable(L, 0, 3);
        cs_set_string(L, "limit", m->rl_limit);
        cs_set_string(L, "remaining", m->rl_remaining);
        cs_set_string(L, "reset", m->rl_reset);
        lua_setfield(L, -2, "rate_limit");
    }
    if (status >= 300 && status <= 399) {
        curl_easy_getinfo(t->curl, CURLINFO_REDIRECT_URL, &location);
        if (location != NULL) cs_set_string(L, "location", location);
    }
}

static void cs_push_body(lua_State *L, cs_transfer *t, const cs_selection *sel) {
    char err[160];
    if (t->body_len == 0) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, "empty");
    } else if (cs_json_decode_sel(L, t->body, t->body_len, t->client->max_depth, sel, err,
                                  sizeof err)) {
        lua_setfield(L, -2, "value");
    } else {
        lua_pushlstring(L, t->body, t->body_len < CS_SNIPPET_MAX ? t->body_len : CS_SNIPPET_MAX);
        lua_setfield(L, -2, "raw");
        lua_pushstring(L, err);
        lua_setfield(L, -2, "decode_error");
    }
}

static void cs_release_big_buffer(cs_transfer *t) {
    if (t->body_cap <= CS_BODY_KEEP) return;
    free(t->body);
    t->body = NULL;
    t->body_cap = 0;
}

static void cs_push_size_error(lua_State *L, size_t max) {
    char msg[64];
    snprintf(msg, sizeof msg, "response body exceeds %lu bytes", (unsigned long)max);
    lua_pushstring(L, msg);
}

/* The optional selection argument at idx (a connectstatus.Selection, kept alive by the stack
 * while the body is decoded), or NULL for a full decode. */
static const cs_selection *cs_opt_selection(lua_State *L, int idx) {
    const cs_selection *sel;
    if (lua_isnoneornil(L, idx)) return NULL;
    sel = (const cs_selection *)luaL_checkudata(L, idx, CS_SEL_MT);
    if (sel->states == NULL) luaL_argerror(L, idx, "the selection is closed");
    return sel;
}

/* The answer of the finished exchange: a result table, or nil, kind, message. */
static int cs_push_response(lua_State *L, cs_transfer *t, const cs_selection *sel) {
    long status = 0;
    t->busy = 0;
    if (t->rc != CURLE_OK) {
        lua_pushnil(L);
        lua_pushstring(L, cs_kind_of(t->rc, t->too_large));
        if (t->too_large || t->rc == CURLE_FILESIZE_EXCEEDED)
            cs_push_size_error(L, t->client->body_max);
        else if (t->rc == CURLE_OUT_OF_MEMORY)
            lua_pushliteral(L, "a response header line is longer than libcurl accepts (100 KiB), "
                               "or memory ran out");
        else if (t->rc == CURLE_ABORTED_BY_CALLBACK)
            lua_pushliteral(L, "interrupted");
        else
            lua_pushstring(L, t->errbuf[0] ? t->errbuf : curl_easy_strerror(t->rc));
        cs_release_big_buffer(t);
        return 3;
    }
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &status);
    lua_createtable(L, 0, 6);
    lua_pushinteger(L, (lua_Integer)status);
    lua_setfield(L, -2, "status");
    cs_push_body(L, t, sel);
    cs_push_meta(L, t, status);
    cs_release_big_buffer(t);
    return 1;
}

static int cs_l_collect(lua_State *L) {
    lua_gc(L, LUA_GCCOLLECT, 0);
    return 0;
}

/* A full collection, protected: on 5.1, 5.3 and LuaJIT an error in some finalizer would end it
 * with a raise, and that error is not this exchange's. */
static void cs_collect(lua_State *L) {
    lua_pushcfunction(L, cs_l_collect);
    if (lua_pcall(L, 0, 0, 0) != 0) lua_pop(L, 1);
}

/* Whether the exchange that just failed may go out once more, prepared for it: its kept-alive
 * connection had unasked bytes (a fresh one is used), or no socket could be opened for want of
 * descriptors while unclosed clients still held some (a full collection closes them first). The
 * request was never sent either way. */
static int cs_should_resend(lua_State *L, cs_transfer *t) {
    cs_sockets *s = t->sockets;
    if (t->resent) return 0;
    t->resent = 1;
    if (t->stale) {
        cs_reset_exchange(t, 1);
        return 1;
    }
    if (t->rc != CURLE_COULDNT_CONNECT || !s->exhausted) return 0;
    s->exhausted = 0;
    cs_collect(L);
    cs_reset_exchange(t, t->fresh);
    return 1;
}

/* The first curl_easy_perform of a handle makes the multi handle behind it, and its socket pair. */
static CURLcode cs_perform(cs_transfer *t) {
    cs_fd_list before = {NULL, 0, 0};
    CURLcode rc;
    if (!t->performed) before = cs_fds_open();
    rc = curl_easy_perform(t->curl);
    if (!t->performed) cs_fds_cloexec_since(&before);
    t->performed = 1;
    return rc;
}

/* t:perform([selection]) -> result | nil, kind, message: runs the started exchange to its end
 * and decodes what the selection asks for (everything without one). */
static int cs_l_transfer_perform(lua_State *L) {
    cs_transfer *t = cs_check_transfer(L);
    const cs_selection *sel = cs_opt_selection(L, 2);
    if (!t->busy) return luaL_error(L, "transfer not started");
    cs_watch_start(L, &t->watch);
    t->rc = cs_perform(t);
    if (cs_should_resend(L, t)) t->rc = cs_perform(t);
    t->watch.L = NULL;
    return cs_push_response(L, t, sel);
}

/* t:response([selection]) -> result | nil, kind, message, once a Multi reported the exchange
 * finished. */
static int cs_l_transfer_response(lua_State *L) {
    cs_transfer *t = cs_check_transfer(L);
    const cs_selection *sel = cs_opt_selection(L, 2);
    if (!t->busy) return luaL_error(L, "transfer not started");
    return cs_push_response(L, t, sel);
}

static int cs_l_transfer_close(lua_State *L) {
    cs_transfer_release(L, (cs_transfer *)luaL_checkudata(L, 1, CS_TRANSFER));
    return 0;
}

static int cs_l_transfer_tostring(lua_State *L) {
    cs_transfer *t = (cs_transfer *)luaL_checkudata(L, 1, CS_TRANSFER);
    if (t->curl == NULL)
        lua_pushliteral(L, "connectstatus.Transfer (closed)");
    else
        lua_pushfstring(L, "connectstatus.Transfer (%p)", (void *)t);
    return 1;
}

static void cs_register_class(lua_State *L, const char *name, const luaL_Reg *methods,
                              lua_CFunction close, lua_CFunction tostring) {
    luaL_newmetatable(L, name);
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, tostring);
    lua_setfield(L, -2, "__tostring");
    lua_newtable(L);
    luaL_setfuncs(L, methods, 0);
    lua_setfield(L, -2, "__index");
    lua_pushliteral(L, "private");
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

static void cs_client_register(lua_State *L) {
    static const luaL_Reg client_methods[] = {
        {"transfer", cs_l_new_transfer},
        {"is_closed", cs_l_client_is_closed},
        {"close", cs_l_client_close},
        {NULL, NULL},
    };
    static const luaL_Reg transfer_methods[] = {
        {"start", cs_l_transfer_start},
        {"perform", cs_l_transfer_perform},
        {"response", cs_l_transfer_response},
        {"close", cs_l_transfer_close},
        {NULL, NULL},
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
#if LUA_VERSION_NUM < 502
    /* 5.1 has no registry entry for its main thread; the module is nearly always loaded there. */
    if (lua_pushthread(L))
        lua_setfield(L, LUA_REGISTRYINDEX, CS_MAIN_THREAD);
    else
        lua_pop(L, 1);
#endif
    cs_register_class(L, CS_CLIENT, client_methods, cs_l_client_close, cs_l_client_tostring);
    cs_register_class(L, CS_TRANSFER, transfer_methods, cs_l_transfer_close,
                      cs_l_transfer_tostring);
    lua_pushcfunction(L, cs_l_new_client);
    lua_setfield(L, -2, "new_client");
    lua_pushstring(L, curl_version_info(CURLVERSION_NOW)->version);
    lua_setfield(L, -2, "curl_version");
}
