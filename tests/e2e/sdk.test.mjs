// End-to-end: the official OpenAI Node SDK against a running llmux (started by run.sh): the mock
// provider (chat, embeddings, legacy completions) and the Python mock OpenAI upstream.
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
  assert.deepEqual(ids, ['mock-gpt', 'mock-fixed', 'upstream-gpt', 'upstream-429', 'upstream-reset',
    'upstream-tools', 'claude', 'gemini', 'bedrock-claude']);
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

// ---- embeddings (mock provider): the SDK asks for encoding_format "base64" by default and decodes the
// little-endian float32 bytes itself.
const norm = (v) => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

test('embeddings.create (SDK default base64): 1536 floats, deterministic, unit length', async () => {
  const a = await client.embeddings.create({ model: 'mock-gpt', input: 'the quick brown fox' });
  assert.equal(a.object, 'list');
  assert.equal(a.data.length, 1);
  assert.equal(a.data[0].object, 'embedding');
  assert.equal(a.data[0].index, 0);
  const v = a.data[0].embedding;
  assert.ok(Array.isArray(v), 'the SDK decoded base64 into an array');
  assert.equal(v.length, 1536);
  assert.ok(v.every((x) => Number.isFinite(x)));
  assert.ok(Math.abs(norm(v) - 1) < 1e-4, `unit vector (norm ${norm(v)})`);
  assert.ok(a.usage.prompt_tokens > 0);
  assert.equal(a.usage.total_tokens, a.usage.prompt_tokens);

  const again = await client.embeddings.create({ model: 'mock-gpt', input: 'the quick brown fox' });
  assert.deepEqual(again.data[0].embedding, v, 'same text -> same vector');
  const other = await client.embeddings.create({ model: 'mock-gpt', input: 'a lazy dog' });
  assert.notDeepEqual(other.data[0].embedding, v, 'different text -> different vector');
});

test('embeddings.create: batch input, dimensions, encoding_format float matches base64', async () => {
  const batch = await client.embeddings.create({ model: 'mock-gpt', input: ['one', 'two', 'one'] });
  assert.deepEqual(batch.data.map((d) => d.index), [0, 1, 2]);
  assert.deepEqual(batch.data[0].embedding, batch.data[2].embedding);
  assert.notDeepEqual(batch.data[0].embedding, batch.data[1].embedding);

  const small = await client.embeddings.create({ model: 'mock-gpt', input: 'one', dimensions: 256 });
  assert.equal(small.data[0].embedding.length, 256);

  const floats = await client.embeddings.create({ model: 'mock-gpt', input: 'one', encoding_format: 'float' });
  const f = floats.data[0].embedding;
  assert.equal(f.length, 1536);
  const b = batch.data[0].embedding;
  for (let i = 0; i < f.length; i++) assert.ok(Math.abs(f[i] - b[i]) < 1e-6, `component ${i}: ${f[i]} vs ${b[i]}`);

  const b64 = await client.embeddings.create({ model: 'mock-gpt', input: 'one', encoding_format: 'base64' });
  assert.equal(typeof b64.data[0].embedding, 'string', 'explicit base64 is returned undecoded');
  assert.equal(Buffer.from(b64.data[0].embedding, 'base64').length, 1536 * 4);
});

// ---- legacy completions (mock provider): "This is a mock completion of: <prompt>" unless mock_response.
const LEGACY = (prompt) => `This is a mock completion of: ${prompt}`;
test('completions.create (legacy): plain and streamed', async () => {
  const res = await client.completions.create({ model: 'mock-gpt', prompt: 'Say this is a test', max_tokens: 64 });
  assert.equal(res.object, 'text_completion');
  assert.ok(res.id);
  assert.equal(res.choices.length, 1);
  assert.equal(res.choices[0].index, 0);
  assert.equal(res.choices[0].text, LEGACY('Say this is a test'));
  assert.equal(res.choices[0].finish_reason, 'stop');
  assert.ok(res.usage.prompt_tokens > 0 && res.usage.completion_tokens > 0);
  assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + res.usage.completion_tokens);

  const fixed = await client.completions.create({ model: 'mock-fixed', prompt: 'ignored' });
  assert.equal(fixed.choices[0].text, 'Hello from llmux!');

  const stream = await client.completions.create({
    model: 'mock-gpt',
    prompt: 'stream the legacy way',
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const c of stream) {
    chunks++;
    assert.equal(c.object, 'text_completion');
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      text += ch.text ?? '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  assert.equal(text, LEGACY('stream the legacy way'));
  assert.equal(finish, 'stop');
  assert.ok(chunks >= 3);
  assert.ok(usage && usage.completion_tokens > 0, 'usage chunk with include_usage');
});
