/* Two Lua states on two threads, each requiring connectstatus (the built module, through
 * package.cpath) and reading statuses from the same fake API with its own client and token.
 * Both threads start together, so the module loads and libcurl initialises concurrently.
 * Usage: threads URL READS; exits 0 when both threads read every status correctly.
 * Built and run by tools/threads.sh (tools/threads.lua starts the fake and checks its records). */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>

#define THREADS 2

static const char script[] =
    "local url, reads, id = ...\n"
    "local cs = require 'connectstatus'\n"
    "local cc = cs.confluent { token = 'thread-' .. id, environment = 'env-demo',\n"
    "  cluster = 'lkc-demo', base_url = url, timeout = 10,\n"
    "  retry = { attempts = 3, base = 0.01 } }\n"
    "for _ = 1, reads do\n"
    "  local s = assert(cc:status('pg-cdc'))\n"
    "  assert(s.name == 'pg-cdc' and s.tasks[1].id == 0, 'wrong status')\n"
    "end\n"
    "local v, err = cc:status('no-such-connector')\n"
    "assert(v == nil and err.kind == 'not_found', 'expected not_found')\n"
    "cc:close()\n"
    "collectgarbage()\n"
    "return reads\n";

typedef struct {
    const char *url;
    long reads;
    int id;
    int ok;
    pthread_barrier_t *start;
} job;

static void *run(void *arg) {
    job *j = (job *)arg;
    lua_State *L = luaL_newstate();
    pthread_barrier_wait(j->start);
    if (L == NULL) return NULL;
    luaL_openlibs(L);
    if (luaL_loadbuffer(L, script, sizeof script - 1, "=threads") != LUA_OK) {
        fprintf(stderr, "thread %d: %s\n", j->id, lua_tostring(L, -1));
        lua_close(L);
        return NULL;
    }
    lua_pushstring(L, j->url);
    lua_pushinteger(L, (lua_Integer)j->reads);
    lua_pushinteger(L, j->id);
    if (lua_pcall(L, 3, 1, 0) != LUA_OK) {
        fprintf(stderr, "thread %d: %s\n", j->id, lua_tostring(L, -1));
    } else {
        j->ok = lua_tointeger(L, -1) == j->reads;
        printf("thread %d: %ld reads\n", j->id, j->reads);
    }
    lua_close(L);
    return NULL;
}

int main(int argc, char **argv) {
    pthread_t threads[THREADS];
    job jobs[THREADS];
    pthread_barrier_t start;
    int i, failed = 0;
    if (argc != 3) {
        fprintf(stderr, "usage: threads URL READS\n");
        return 2;
    }
    pthread_barrier_init(&start, NULL, THREADS);
    for (i = 0; i < THREADS; i++) {
        jobs[i].url = argv[1];
        jobs[i].reads = strtol(argv[2], NULL, 10);
        jobs[i].id = i + 1;
        jobs[i].ok = 0;
        jobs[i].start = &start;
        if (pthread_create(&threads[i], NULL, run, &jobs[i]) != 0) return 1;
    }
    for (i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        failed += !jobs[i].ok;
    }
    pthread_barrier_destroy(&start);
    return failed == 0 ? 0 : 1;
}
