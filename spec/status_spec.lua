-- connectstatus.status: the one reader of a connector status document. It reads data from the
-- network, so every odd shape gives an answer and nothing raises.
local cs = require "connectstatus"
local status = require "connectstatus.status"
local helpers = require "helpers"

describe("status", function()
  it("reads the documented status fixture", function()
    local st = assert(cs.json.decode(helpers.fixture("confluent_status.json")))
    assert.equal("PROVISIONING", status.state(st))
    assert.equal("MyGcsLogsBucketConnector", status.name(st))
    assert.equal("source", status.type(st))
    assert.equal("MyGcsLogsBucketConnector", status.worker(st))
    assert.same({}, status.tasks(st))
    assert.is_nil(status.trace_line(status.trace(st))) -- "" says nothing
  end)

  it("gives clean tasks: typed members only, an empty msg as nil", function()
    local tasks = status.tasks { tasks = { { id = 0, state = "RUNNING", msg = "", worker_id = "w" },
      { id = "t1", state = 7, msg = "Task failed: x", trace = false } } }
    assert.same({ index = 1, id = 0, state = "RUNNING", worker_id = "w" }, tasks[1])
    assert.same({ index = 2, id = "t1", msg = "Task failed: x" }, tasks[2])
    assert.equal("task 0", status.task_label(tasks[1]))
    assert.equal("task #3", status.task_label { index = 3 })
  end)

  it("never raises on hostile documents", function()
    for _, st in ipairs { 42, true, false, cs.null, "RUNNING", {}, { connector = 1 }, { connector = { state = 5 } },
      { tasks = { cs.null } }, { tasks = { 1 } }, { tasks = "x" }, { tasks = { true, { id = {} } } }, { name = {} } } do
      assert.is_nil(status.state(st))
      assert.is_nil(status.trace(st))
      assert.is_nil(status.name(st))
      assert.is_table(status.tasks(st))
      assert.is_table(status.connector(st))
    end
    assert.same({ { index = 1, unreadable = true } }, status.tasks { tasks = { 1 } })
    assert.same({ { index = 1, unreadable = true } }, status.tasks { tasks = { cs.null } })
    assert.same({ index = 2 }, status.tasks { tasks = { true, { id = {} } } }[2])
  end)

  describe("trace_line", function()
    it("skips a configuration trace's heading for the line that says what is wrong", function()
      assert.equal("topics: Provided Kafka ApiKey is invalid", status.trace_line(
        "There were some errors with your configuration:\ntopics: Provided Kafka ApiKey is invalid\n" ..
        "kafka.api.secret: Provided Kafka ApiKey is invalid\n"))
    end)

    it("takes the innermost cause of a Java trace", function()
      local trace = "org.apache.kafka.connect.errors.ConnectException: Exiting WorkerSourceTask due to " ..
        "unrecoverable exception.\n\tat org.apache.kafka.connect.runtime.WorkerTask.doRun(WorkerTask.java:210)\n" ..
        "Caused by: org.apache.kafka.connect.errors.DataException: wrapped\n\t... 3 more\n" ..
        "Caused by: org.apache.kafka.common.errors.RecordTooLargeException: The message is 1048677 bytes\n"
      assert.equal("org.apache.kafka.common.errors.RecordTooLargeException: The message is 1048677 bytes",
        status.trace_line(trace))
    end)

    it("takes the first line of a trace without cause or heading, CRLF or not", function()
      assert.equal("java.lang.Oops", status.trace_line("\r\n  java.lang.Oops  \r\n\tat a.b(C.java:1)\r\n"))
      assert.equal("only: a heading:", status.trace_line("only: a heading:\n"))
    end)

    it("is nil for what is not a non-blank string, and bounded in length", function()
      for _, v in ipairs { false, 1, {}, "", " \n\t\n" } do assert.is_nil(status.trace_line(v)) end
      local line = status.trace_line(("x"):rep(10000))
      assert.equal(240, #line)
      assert.equal("...", line:sub(-3))
    end)

    it("prefers a task's message to its trace", function()
      assert.equal("Task failed: boom", status.task_line { msg = "Task failed: boom", trace = "java.lang.X" })
      assert.equal("java.lang.X", status.task_line { trace = "java.lang.X" })
      assert.is_nil(status.task_line(42))
    end)
  end)
end)
