// End-to-end: the official OpenAI Node SDK against a running llmux (started by run.sh).
// Env: LLMUX_URL (http://127.0.0.1:<port>), LLMUX_MASTER_KEY.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import OpenAI from 'openai';

const baseURL = `${process.env.LLMUX_URL}/v1`;
const apiKey = process.env.LLMUX_MASTER_KEY;
assert.ok(process.env.LLMUX_URL && apiKey, 'run through tests/e2e/run.sh (LLMUX_URL, LLMUX_MASTER_KEY)');

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });
const UPSTREAM_TEXT = 'Hello from the mock upstream — café ✓.';

test('plain completion through the mock provider (echo)', async () => {
  const res = await client.chat.completions.create({
    model: 'mock-gpt',
    messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'Say hi to the SDK ✓' }],
  });
  assert.equal(res.object, 'chat.completion');
  assert.equal(res.choices[0].message.role, 'assistant');
  assert.equal(res.choices[0].message.content, 'Say hi to the SDK ✓');
  assert.equal(res.choices[0].finish_reason, 'stop');
  assert.ok(res.usage.prompt_tokens > 0 && res.usage.completion_tokens > 0);
  assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + res.usage.completion_tokens);
});

test('plain completion with mock_response from litellm_params, plus llmux headers', async () => {
  const { data, response } = await client.chat.completions
    .create({ model: 'mock-fixed', messages: [{ role: 'user', content: 'ignored' }] })
    .withResponse();
  assert.equal(data.choices[0].message.content, 'Hello from llmux!');
  assert.ok(response.headers.get('x-llmux-request-id'));
  assert.equal(response.headers.get('x-llmux-model-group'), 'mock-fixed');
  assert.equal(response.headers.get('x-llmux-deployment'), 'mock-fixed/1');
});

test('plain completion through an OpenAI-compatible upstream', async () => {
  const res = await client.chat.completions.create({
    model: 'upstream-gpt',
    messages: [{ role: 'user', content: 'hello' }],
    temperature: 0.2,
  });
  assert.equal(res.choices[0].message.content, UPSTREAM_TEXT);
  assert.equal(res.model, 'gpt-4o-mini-2024-07-18');
  assert.ok(res.usage.total_tokens > 0);
});

async function collect(stream) {
  let content = '';
  let usage = null;
  let chunks = 0;
  let finish = null;
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      if (c.delta?.content) content += c.delta.content;
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { content, usage, chunks, finish };
}

test('stream from the mock provider without include_usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'mock-gpt',
    stream: true,
    messages: [{ role: 'user', content: 'one two three four' }],
  });
  const r = await collect(stream);
  assert.equal(r.content, 'one two three four');
  assert.equal(r.finish, 'stop');
  assert.equal(r.usage, null, 'no usage without stream_options.include_usage');
  assert.ok(r.chunks >= 3);
});

test('stream from the mock provider with include_usage', async () => {
  const stream = await client.chat.completions.create({
    model: 'mock-gpt',
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'count my tokens please' }],
  });
  const r = await collect(stream);
  assert.equal(r.content, 'count my tokens please');
  assert.ok(r.usage, 'the final usage chunk arrives');
  assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
});

test('stream through the upstream, with and without include_usage', async () => {
  let r = await collect(await client.chat.completions.create({
    model: 'upstream-gpt',
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'stream please' }],
  }));
  assert.equal(r.content, UPSTREAM_TEXT);
  assert.ok(r.usage && r.usage.total_tokens > 0, 'usage chunk relayed when asked for');
  r = await collect(await client.chat.completions.create({
    model: 'upstream-gpt',
    stream: true,
    messages: [{ role: 'user', content: 'stream please' }],
  }));
  assert.equal(r.content, UPSTREAM_TEXT);
  assert.equal(r.usage, null, 'usage chunk not relayed when not asked for');
});

test('an upstream failure mid-stream surfaces as an SDK error', async () => {
  const stream = await client.chat.completions.create({
    model: 'upstream-reset',
    stream: true,
    messages: [{ role: 'user', content: 'x' }],
  });
  await assert.rejects(collect(stream), (err) => {
    assert.ok(err instanceof OpenAI.APIError, `expected an APIError from the error event, got ${err}`);
    return true;
  });
});

test('unknown model -> NotFoundError 404 with our message', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.NotFoundError, `expected NotFoundError, got ${err?.constructor?.name}`);
      assert.equal(err.status, 404);
      assert.equal(err.code, 'model_not_found');
      assert.match(err.message, /mock-gpt/, 'message lists the available model groups');
      assert.ok(err.headers.get('x-llmux-request-id'));
      return true;
    },
  );
});

test('wrong key -> AuthenticationError 401', async () => {
  const bad = new OpenAI({ baseURL, apiKey: 'sk-wrong', maxRetries: 0 });
  await assert.rejects(
    bad.chat.completions.create({ model: 'mock-gpt', messages: [{ role: 'user', content: 'x' }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.AuthenticationError, `expected AuthenticationError, got ${err}`);
      assert.equal(err.status, 401);
      assert.equal(err.code, 'invalid_api_key');
      return true;
    },
  );
  await assert.rejects(bad.models.list(), OpenAI.AuthenticationError);
});

test('upstream 429 -> RateLimitError with Retry-After', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'upstream-429', messages: [{ role: 'user', content: 'x' }] }),
    (err) => {
      assert.ok(err instanceof OpenAI.RateLimitError, `expected RateLimitError, got ${err}`);
      assert.equal(err.status, 429);
      assert.equal(err.code, 'rate_limit_exceeded');
      assert.equal(err.headers.get('retry-after'), '7');
      return true;
    },
  );
});

test('bad request -> BadRequestError 400 naming the field', async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'mock-gpt', messages: [] }),
    (err) => {
      assert.ok(err instanceof OpenAI.BadRequestError, `expected BadRequestError, got ${err}`);
      assert.equal(err.param, 'messages');
      return true;
    },
  );
});

test('models.list()', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    assert.equal(m.owned_by, 'llmux');
    ids.push(m.id);
  }
  assert.deepEqual(ids, ['mock-gpt', 'mock-fixed', 'upstream-gpt', 'upstream-429', 'upstream-reset']);
});

test('concurrent completions and streams keep their own content', async () => {
  const jobs = [];
  for (let i = 0; i < 12; i++) {
    const text = `parallel request number ${i} ✓`;
    if (i % 2 === 0) {
      jobs.push(client.chat.completions
        .create({ model: 'mock-gpt', messages: [{ role: 'user', content: text }] })
        .then((r) => [r.choices[0].message.content, text]));
    } else {
      jobs.push(client.chat.completions
        .create({ model: 'upstream-gpt', stream: true, messages: [{ role: 'user', content: text }] })
        .then(collect)
        .then((r) => [r.content, UPSTREAM_TEXT]));
    }
  }
  for (const [got, want] of await Promise.all(jobs)) assert.equal(got, want);
});
