/* connectstatus.Multi: a libcurl multi handle that runs many connectstatus.Transfers at once and
 * never blocks longer than its caller allows. Its transfers share the multi's kept-alive
 * connections. A Lua table (by registry reference) maps each transfer in flight to its userdata,
 * which keeps them alive and lets poll() hand the finished ones back. */
#define CS_MULTI "connectstatus.Multi"
#define CS_MULTI_MAX_WAIT_MS 3600000

typedef struct {
    CURLM *multi; /* NULL once closed */
    int inflight_ref;
    int count;
    cs_sockets *sockets; /* the connections in the multi's cache, whichever client opened them */
} cs_multi;

static cs_multi *cs_check_multi(lua_State *L) {
    cs_multi *m = (cs_multi *)luaL_checkudata(L, 1, CS_MULTI);
    if (m->multi == NULL) luaL_error(L, "attempt to use a closed connectstatus loop");
    return m;
}

static void cs_push_inflight(lua_State *L, const cs_multi *m) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, m->inflight_ref);
}

/* A transfer leaving the multi lists its next connections with its client again. */
static void cs_multi_detach(cs_multi *m, cs_transfer *t) {
    curl_multi_remove_handle(m->multi, t->curl);
    cs_use_sockets(t, t->client->sockets);
}

/* Removes every transfer still in flight (they stay usable), then the multi handle, whose
 * cleanup closes the cached connections. */
static void cs_multi_release(lua_State *L, cs_multi *m) {
    if (m->multi != NULL) {
        cs_push_inflight(L, m);
        lua_pushnil(L);
        while (lua_next(L, -2) != 0) {
            cs_transfer *t = (cs_transfer *)lua_touserdata(L, -1);
            if (t->curl != NULL) cs_multi_detach(m, t);
            t->busy = 0;
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
        curl_multi_cleanup(m->multi);
        m->multi = NULL;
    }
    if (m->sockets != NULL) cs_sockets_unref(m->sockets);
    m->sockets = NULL;
    luaL_unref(L, LUA_REGISTRYINDEX, m->inflight_ref);
    m->inflight_ref = LUA_NOREF;
    m->count = 0;
}

/* core.new_multi(max_per_host) */
static int cs_l_new_multi(lua_State *L) {
    lua_Integer per_host = luaL_optinteger(L, 1, 32);
    cs_fd_list before;
    cs_multi *m;
    luaL_argcheck(L, per_host >= 1 && per_host <= 10000, 1, "max_per_host must be 1 .. 10000");
    m = (cs_multi *)lua_newuserdata(L, sizeof *m);
    memset(m, 0, sizeof *m);
    m->inflight_ref = LUA_NOREF;
    luaL_setmetatable(L, CS_MULTI);
    lua_newtable(L);
    m->inflight_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    m->sockets = cs_sockets_new();
    if (m->sockets == NULL) return luaL_error(L, "out of memory");
    before = cs_fds_open();
    m->multi = curl_multi_init();
    cs_fds_cloexec_since(&before);
    if (m->multi == NULL) return luaL_error(L, "cannot create a libcurl multi handle");
    curl_multi_setopt(m->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)per_host);
    /* The cache must hold every connection the per-host cap allows, or they churn. */
    curl_multi_setopt(m->multi, CURLMOPT_MAXCONNECTS, (long)per_host * 4);
    return 1;
}

/* m:add(transfer): the started transfer runs on the next poll. */
static int cs_l_multi_add(lua_State *L) {
    cs_multi *m = cs_check_multi(L);
    cs_transfer *t = (cs_transfer *)luaL_checkudata(L, 2, CS_TRANSFER);
    if (t->curl == NULL || !t->busy) return luaL_error(L, "transfer not started");
    cs_push_inflight(L, m);
    lua_pushlightuserdata(L, t);
    lua_rawget(L, -2);
    /* libcurl would refuse it, and the failure path below would forget the one in flight */
    if (!lua_isnil(L, -1)) return luaL_error(L, "transfer already in the loop");
    lua_pop(L, 1);
    lua_pushlightuserdata(L, t);
    lua_pushvalue(L, 2);
    lua_rawset(L, -3);
    cs_use_sockets(t, m->sockets);
    if (curl_multi_add_handle(m->multi, t->curl) != CURLM_OK) {
        cs_use_sockets(t, t->client->sockets);
        lua_pushlightuserdata(L, t);
        lua_pushnil(L);
        lua_rawset(L, -3);
        return luaL_error(L, "cannot add the transfer to the loop");
    }
    m->count++;
    return 0;
}

static void cs_multi_forget(lua_State *L, cs_multi *m, cs_transfer *t) {
    cs_push_inflight(L, m);
    lua_pushlightuserdata(L, t);
    lua_pushnil(L);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    m->count--;
}

/* m:remove(transfer): aborts a transfer in flight (a cancelled task); it may be started again. */
static int cs_l_multi_remove(lua_State *L) {
    cs_multi *m = cs_check_multi(L);
    cs_transfer *t = (cs_transfer *)luaL_checkudata(L, 2, CS_TRANSFER);
    cs_push_inflight(L, m);
    lua_pushlightuserdata(L, t);
    lua_rawget(L, -2);
    if (!lua_isnil(L, -1) && t->curl != NULL) {
        cs_multi_detach(m, t);
        cs_multi_forget(L, m, t);
    }
    t->busy = 0;
    return 0;
}

/* Appends each finished transfer's userdata to the table at the top of the stack. */
static void cs_multi_collect(lua_State *L, cs_multi *m) {
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(m->multi, &left)) != NULL) {
        cs_transfer *t = NULL;
        if (msg->msg != CURLMSG_DONE) continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t);
        t->rc = msg->data.result;
        curl_multi_remove_handle(m->multi, msg->easy_handle);
        if (cs_should_resend(L, t)) { /* not finished yet: it goes out again */
            if (curl_multi_add_handle(m->multi, t->curl) == CURLM_OK) continue;
            t->rc = CURLE_COULDNT_CONNECT;
        }
        cs_use_sockets(t, t->client->sockets);
        cs_push_inflight(L, m);
        lua_pushlightuserdata(L, t);
        lua_rawget(L, -2);
        lua_rawseti(L, -3, (int)lua_rawlen(L, -3) + 1);
        lua_pop(L, 1);
        cs_multi_forget(L, m, t);
    }
}

/* m:poll(timeout) -> finished transfers (a list), transfers still in flight. Drives every
 * transfer; waits at most timeout seconds for activity (0: never waits), and returns as soon as
 * one finished. */
static int cs_l_multi_poll(lua_State *L) {
    cs_multi *m = cs_check_multi(L);
    lua_Number timeout = luaL_checknumber(L, 2);
    int running = 0;
    luaL_argcheck(L, timeout >= 0, 2, "timeout must not be negative");
    lua_settop(L, 2);
    lua_newtable(L);
    curl_multi_perform(m->multi, &running);
    cs_multi_collect(L, m);
    if (lua_rawlen(L, 3) == 0 && timeout > 0) {
        lua_Number ms = timeout * 1000;
        int wait_ms = ms > CS_MULTI_MAX_WAIT_MS ? CS_MULTI_MAX_WAIT_MS : (int)(ms + 0.999);
        curl_multi_poll(m->multi, NULL, 0, wait_ms, NULL);
        curl_multi_perform(m->multi, &running);
        cs_multi_collect(L, m);
    }
    lua_pushinteger(L, m->count);
    return 2;
}

static int cs_l_multi_close(lua_State *L) {
    cs_multi_release(L, (cs_multi *)luaL_checkudata(L, 1, CS_MULTI));
    return 0;
}

static int cs_l_multi_tostring(lua_State *L) {
    cs_multi *m = (cs_multi *)luaL_checkudata(L, 1, CS_MULTI);
    if (m->multi == NULL)
        lua_pushliteral(L, "connectstatus.Multi (closed)");
    else
        lua_pushfstring(L, "connectstatus.Multi (%d in flight)", m->count);
    return 1;
}

static void cs_multi_register(lua_State *L) {
    static const luaL_Reg methods[] = {
        {"add", cs_l_multi_add},
        {"remove", cs_l_multi_remove},
        {"poll", cs_l_multi_poll},
        {"close", cs_l_multi_close},
        {NULL, NULL},
    };
    cs_register_class(L, CS_MULTI, methods, cs_l_multi_close, cs_l_multi_tostring);
    lua_pushcfunction(L, cs_l_new_multi);
    lua_setfield(L, -2, "new_multi");
}
