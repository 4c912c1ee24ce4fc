// End-to-end: the official Anthropic Node SDK (@anthropic-ai/sdk) against llmux's /v1/messages, with
// the master key sent as x-api-key. Two backends:
//   * upstream-gpt / upstream-tools: OpenAI Chat Completions (the Python mock OpenAI upstream: a fixed
//     text, or tool calls for the gpt-tools model), so llmux translates Messages <-> Chat Completions;
//   * claude: Anthropic (the Python Anthropic mock, which echoes the last user text, calls the first
//     tool when the text contains "call tool", and answers "Tool result: ..." after tool results).
// Env: LLMUX_URL, LLMUX_MASTER_KEY, MOCK_OPENAI_URL (to inspect what the OpenAI upstream received).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';

const apiKey = process.env.LLMUX_MASTER_KEY;
assert.ok(process.env.LLMUX_URL && apiKey, 'run through tests/e2e/run.sh (LLMUX_URL, LLMUX_MASTER_KEY)');

const client = new Anthropic({ baseURL: process.env.LLMUX_URL, apiKey, maxRetries: 0, timeout: 30_000 });
const UPSTREAM_TEXT = 'Hello from the mock upstream — café ✓.';

const WEATHER_TOOL = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string', description: 'City name' } },
    required: ['city'],
  },
};

const words = (s) => s.split(/\s+/).filter(Boolean).length;

// The requests the mock OpenAI upstream received whose body contains `marker`.
async function upstreamRequests(marker) {
  const res = await fetch(`${process.env.MOCK_OPENAI_URL}/_mock/requests`);
  assert.equal(res.status, 200);
  const all = await res.json();
  return all.filter((r) => r.body.includes(marker));
}

function assertMessage(msg, model) {
  assert.equal(msg.type, 'message');
  assert.equal(msg.role, 'assistant');
  assert.ok(typeof msg.id === 'string' && msg.id.length > 0, 'message id');
  assert.equal(typeof msg.model, 'string');
  assert.ok(Array.isArray(msg.content));
  assert.ok(msg.usage && Number.isInteger(msg.usage.input_tokens) && Number.isInteger(msg.usage.output_tokens));
  if (model) assert.ok(msg.model.length > 0, `model for ${model}`);
}

// Raw stream events (stream: true): their types in order, text, and the message_delta.
async function drainRaw(stream) {
  const types = [];
  let text = '';
  let delta = null;
  let start = null;
  for await (const ev of stream) {
    types.push(ev.type);
    if (ev.type === 'message_start') start = ev.message;
    if (ev.type === 'content_block_delta' && ev.delta.type === 'text_delta') text += ev.delta.text;
    if (ev.type === 'message_delta') delta = ev;
  }
  return { types, text, delta, start };
}

// The event grammar of a Messages stream with a single text block.
function assertTextEventOrder(types) {
  assert.equal(types[0], 'message_start');
  assert.equal(types.at(-1), 'message_stop');
  assert.equal(types.at(-2), 'message_delta');
  const inner = types.slice(1, -2).filter((t) => t !== 'ping');
  assert.equal(inner[0], 'content_block_start');
  assert.equal(inner.at(-1), 'content_block_stop');
  assert.ok(inner.slice(1, -1).every((t) => t === 'content_block_delta'), `deltas only: ${inner}`);
  assert.ok(inner.length >= 3);
}

describe('anthropic SDK -> OpenAI-backed model (mock OpenAI upstream)', () => {
  test('messages.create plain', async () => {
    const { data: msg, response } = await client.messages
      .create({
        model: 'upstream-gpt',
        max_tokens: 256,
        system: 'be brief',
        messages: [{ role: 'user', content: 'hello from the anthropic sdk' }],
      })
      .withResponse();
    assertMessage(msg, 'upstream-gpt');
    assert.equal(msg.content.length, 1);
    assert.deepEqual({ type: msg.content[0].type, text: msg.content[0].text }, { type: 'text', text: UPSTREAM_TEXT });
    assert.equal(msg.stop_reason, 'end_turn');
    assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0);
    assert.ok(response.headers.get('x-llmux-request-id'));
    assert.match(response.headers.get('content-type'), /^application\/json/);

    // The upstream got a Chat Completions request: system first, then the user turn, max_tokens kept.
    const [rec] = await upstreamRequests('hello from the anthropic sdk');
    assert.ok(rec, 'the OpenAI upstream saw the request');
    const body = JSON.parse(rec.body);
    assert.equal(body.model, 'gpt-4o-mini');
    assert.deepEqual(body.messages.map((m) => m.role), ['system', 'user']);
  });

  test('messages.stream: events, text, finalMessage()', async () => {
    const stream = client.messages.stream({
      model: 'upstream-gpt',
      max_tokens: 256,
      messages: [{ role: 'user', content: 'stream it' }],
    });
    const types = [];
    let text = '';
    stream.on('streamEvent', (ev) => types.push(ev.type));
    stream.on('text', (delta) => { text += delta; });
    const final = await stream.finalMessage();
    assertTextEventOrder(types);
    assert.equal(text, UPSTREAM_TEXT);
    assertMessage(final);
    assert.equal(final.content.length, 1);
    assert.equal(final.content[0].text, UPSTREAM_TEXT);
    assert.equal(final.stop_reason, 'end_turn');
    assert.ok(final.usage.output_tokens > 0, 'usage from the upstream usage chunk');
    assert.equal(await stream.finalText(), UPSTREAM_TEXT);
  });

  test('messages.create stream:true raw events', async () => {
    const r = await drainRaw(await client.messages.create({
      model: 'upstream-gpt',
      max_tokens: 256,
      stream: true,
      messages: [{ role: 'user', content: 'raw events' }],
    }));
    assertTextEventOrder(r.types);
    assert.equal(r.text, UPSTREAM_TEXT);
    assert.equal(r.start.role, 'assistant');
    assert.deepEqual(r.start.content, []);
    assert.equal(r.delta.delta.stop_reason, 'end_turn');
    assert.ok(r.delta.usage.output_tokens > 0);
  });

  test('tools: tool_use from the upstream, tool_result sent back', async () => {
    const messages = [{ role: 'user', content: 'weather in Paris? marker-oa-tools-1' }];
    const first = await client.messages.create({
      model: 'upstream-tools',
      max_tokens: 256,
      tools: [WEATHER_TOOL],
      messages,
    });
    assertMessage(first);
    assert.equal(first.stop_reason, 'tool_use');
    const uses = first.content.filter((b) => b.type === 'tool_use');
    assert.equal(uses.length, 1);
    assert.equal(uses[0].name, 'get_weather');
    assert.equal(uses[0].id, 'call_A');
    assert.deepEqual(uses[0].input, { city: 'Paris' });

    // The tools were sent upstream in Chat Completions shape.
    const [toolsReq] = await upstreamRequests('marker-oa-tools-1');
    const tb = JSON.parse(toolsReq.body);
    assert.equal(tb.tools[0].type, 'function');
    assert.equal(tb.tools[0].function.name, 'get_weather');
    assert.deepEqual(tb.tools[0].function.parameters, WEATHER_TOOL.input_schema);

    messages.push({ role: 'assistant', content: first.content });
    messages.push({
      role: 'user',
      content: [{ type: 'tool_result', tool_use_id: uses[0].id, content: 'sunny marker-oa-result-1' }],
    });
    const second = await client.messages.create({
      model: 'upstream-gpt',
      max_tokens: 256,
      tools: [WEATHER_TOOL],
      messages,
    });
    assert.equal(second.stop_reason, 'end_turn');
    assert.equal(second.content[0].text, UPSTREAM_TEXT);

    // ... and the tool_result became a role "tool" message answering the assistant's tool call.
    const [rec] = await upstreamRequests('marker-oa-result-1');
    const body = JSON.parse(rec.body);
    const asst = body.messages.find((m) => m.role === 'assistant');
    assert.equal(asst.tool_calls[0].id, 'call_A');
    assert.equal(asst.tool_calls[0].function.name, 'get_weather');
    assert.deepEqual(JSON.parse(asst.tool_calls[0].function.arguments), { city: 'Paris' });
    const tool = body.messages.find((m) => m.role === 'tool');
    assert.equal(tool.tool_call_id, 'call_A');
    const toolText = typeof tool.content === 'string' ? tool.content : tool.content.map((p) => p.text).join('');
    assert.equal(toolText, 'sunny marker-oa-result-1');
  });

  test('tool_choice any / tool become OpenAI required / named function', async () => {
    const timeTool = { name: 'get_time', input_schema: { type: 'object', properties: { tz: { type: 'string' } } } };
    for (const [choice, want, marker] of [
      [{ type: 'any' }, 'required', 'marker-oa-tc-any'],
      [{ type: 'tool', name: 'get_time' }, { type: 'function', function: { name: 'get_time' } }, 'marker-oa-tc-tool'],
      [{ type: 'none' }, 'none', 'marker-oa-tc-none'],
    ]) {
      const msg = await client.messages.create({
        model: 'upstream-gpt',
        max_tokens: 64,
        tools: [WEATHER_TOOL, timeTool],
        tool_choice: choice,
        messages: [{ role: 'user', content: marker }],
      });
      assert.equal(msg.content[0].text, UPSTREAM_TEXT);
      const [rec] = await upstreamRequests(marker);
      assert.deepEqual(JSON.parse(rec.body).tool_choice, want, `tool_choice ${JSON.stringify(choice)}`);
    }
  });

  test('an upstream failure mid-stream surfaces as an SDK error', async () => {
    const stream = client.messages.stream({
      model: 'upstream-reset',
      max_tokens: 64,
      messages: [{ role: 'user', content: 'x' }],
    });
    let text = '';
    stream.on('text', (d) => { text += d; });
    await assert.rejects(stream.finalMessage(), (err) => {
      assert.ok(err instanceof Anthropic.APIError, `expected an APIError from the error event, got ${err?.constructor?.name}: ${err}`);
      assert.match(err.message, /upstream|reset|connection/i);
      return true;
    });
    assert.ok(UPSTREAM_TEXT.startsWith(text), 'text before the failure is a prefix of the answer');
  });

  test('tools streamed: two tool_use blocks with their input JSON', async () => {
    const stream = client.messages.stream({
      model: 'upstream-tools',
      max_tokens: 256,
      tools: [WEATHER_TOOL],
      messages: [{ role: 'user', content: 'weather in two cities' }],
    });
    let jsonDeltas = 0;
    stream.on('inputJson', () => { jsonDeltas++; });
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    const uses = final.content.filter((b) => b.type === 'tool_use');
    assert.deepEqual(uses.map((u) => [u.id, u.name, u.input]), [
      ['call_A', 'get_weather', { city: 'Paris' }],
      ['call_B', 'get_weather', { city: 'Rome' }],
    ]);
    assert.ok(jsonDeltas >= 2, 'input_json_delta events');
  });
});

describe('anthropic SDK -> Anthropic-backed model (Anthropic mock)', () => {
  test('messages.create plain (echo)', async () => {
    const text = 'Hello Claude through llmux ✓';
    const msg = await client.messages.create({
      model: 'claude',
      max_tokens: 256,
      messages: [{ role: 'user', content: text }],
    });
    assertMessage(msg, 'claude');
    assert.equal(msg.content.length, 1);
    assert.equal(msg.content[0].type, 'text');
    assert.equal(msg.content[0].text, text);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.input_tokens, 3 + words(text));
    assert.equal(msg.usage.output_tokens, words(text));
  });

  test('messages.create with a system prompt and content blocks', async () => {
    const msg = await client.messages.create({
      model: 'claude',
      max_tokens: 256,
      system: [{ type: 'text', text: 'You are terse.' }],
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'first' }] },
        { role: 'assistant', content: 'ok' },
        { role: 'user', content: [{ type: 'text', text: 'the second question' }] },
      ],
    });
    assert.equal(msg.content[0].text, 'the second question');
    assert.equal(msg.usage.input_tokens, 3 + 3 + 1 + 1 + 3);
  });

  test('max_tokens cut -> stop_reason max_tokens', async () => {
    const msg = await client.messages.create({
      model: 'claude',
      max_tokens: 2,
      messages: [{ role: 'user', content: 'alpha beta gamma delta' }],
    });
    assert.equal(msg.stop_reason, 'max_tokens');
    assert.equal(msg.content[0].text.trim(), 'alpha beta');
  });

  test('messages.stream: events, text, finalMessage()', async () => {
    const text = 'stream me word by word';
    const stream = client.messages.stream({
      model: 'claude',
      max_tokens: 256,
      messages: [{ role: 'user', content: text }],
    });
    const types = [];
    const deltas = [];
    stream.on('streamEvent', (ev) => types.push(ev.type));
    stream.on('text', (d) => deltas.push(d));
    const final = await stream.finalMessage();
    assertTextEventOrder(types);
    assert.equal(deltas.join(''), text);
    assert.ok(deltas.length >= words(text), 'one delta per word');
    assertMessage(final);
    assert.equal(final.content[0].text, text);
    assert.equal(final.stop_reason, 'end_turn');
    assert.equal(final.usage.output_tokens, words(text));
    assert.equal(final.usage.input_tokens, 3 + words(text));
  });

  test('messages.create stream:true raw events', async () => {
    const text = 'raw anthropic events';
    const r = await drainRaw(await client.messages.create({
      model: 'claude',
      max_tokens: 256,
      stream: true,
      messages: [{ role: 'user', content: text }],
    }));
    assertTextEventOrder(r.types);
    assert.equal(r.text, text);
    assert.equal(r.start.role, 'assistant');
    assert.equal(r.delta.delta.stop_reason, 'end_turn');
    assert.equal(r.delta.usage.output_tokens, words(text));
  });

  test('tools: tool_use, then tool_result -> text', async () => {
    const messages = [{ role: 'user', content: 'weather in Paris? call tool' }];
    const first = await client.messages.create({
      model: 'claude',
      max_tokens: 256,
      tools: [WEATHER_TOOL],
      messages,
    });
    assert.equal(first.stop_reason, 'tool_use');
    const uses = first.content.filter((b) => b.type === 'tool_use');
    assert.equal(uses.length, 1);
    assert.ok(uses[0].id, 'tool_use id');
    assert.equal(uses[0].name, 'get_weather');
    assert.deepEqual(uses[0].input, { city: 'Paris' });

    messages.push({ role: 'assistant', content: first.content });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: uses[0].id, content: 'sunny, 21 C' }] });
    const second = await client.messages.create({ model: 'claude', max_tokens: 256, tools: [WEATHER_TOOL], messages });
    assert.equal(second.stop_reason, 'end_turn');
    assert.equal(second.content.length, 1);
    assert.equal(second.content[0].text, 'Tool result: sunny, 21 C');
  });

  test('tool_choice tool forces the named tool', async () => {
    const timeTool = { name: 'get_time', input_schema: { type: 'object', properties: { tz: { type: 'string' } } } };
    const msg = await client.messages.create({
      model: 'claude',
      max_tokens: 64,
      tools: [WEATHER_TOOL, timeTool],
      tool_choice: { type: 'tool', name: 'get_time' },
      messages: [{ role: 'user', content: 'what time is it' }],
    });
    assert.equal(msg.stop_reason, 'tool_use');
    assert.deepEqual(msg.content.map((b) => [b.type, b.name]), [['tool_use', 'get_time']]);
  });

  test('tools streamed: narration + parallel tool_use, then both results', async () => {
    const messages = [{ role: 'user', content: 'narrate and call tool in parallel' }];
    const stream = client.messages.stream({ model: 'claude', max_tokens: 256, tools: [WEATHER_TOOL], messages });
    const blocks = [];
    stream.on('contentBlock', (b) => blocks.push(b.type));
    const final = await stream.finalMessage();
    assert.equal(final.stop_reason, 'tool_use');
    assert.deepEqual(blocks, ['text', 'tool_use', 'tool_use']);
    assert.equal(final.content[0].text, 'Let me check.');
    const uses = final.content.filter((b) => b.type === 'tool_use');
    assert.deepEqual(uses.map((u) => u.input), [{ city: 'Paris' }, { city: 'Rome' }]);
    assert.notEqual(uses[0].id, uses[1].id);

    messages.push({ role: 'assistant', content: final.content });
    messages.push({
      role: 'user',
      content: uses.map((u, i) => ({ type: 'tool_result', tool_use_id: u.id, content: i ? 'Rome: rain' : 'Paris: sunny' })),
    });
    const back = client.messages.stream({ model: 'claude', max_tokens: 256, tools: [WEATHER_TOOL], messages });
    assert.equal(await back.finalText(), 'Tool result: Paris: sunny | Rome: rain');
    assert.equal((await back.finalMessage()).stop_reason, 'end_turn');
  });
});

describe('anthropic SDK errors', () => {
  test('unknown model -> NotFoundError', async () => {
    await assert.rejects(
      client.messages.create({ model: 'no-such-model', max_tokens: 16, messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        assert.ok(err instanceof Anthropic.NotFoundError, `expected NotFoundError, got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 404);
        assert.equal(err.error?.type, 'error');
        assert.equal(err.error?.error?.type, 'not_found_error');
        assert.match(err.message, /no-such-model|model/i);
        return true;
      },
    );
  });

  test('missing max_tokens -> BadRequestError', async () => {
    await assert.rejects(
      client.messages.create({ model: 'claude', messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        assert.ok(err instanceof Anthropic.BadRequestError, `expected BadRequestError, got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 400);
        assert.equal(err.error?.error?.type, 'invalid_request_error');
        assert.match(err.message, /max_tokens/);
        return true;
      },
    );
  });

  test('wrong key -> AuthenticationError', async () => {
    const bad = new Anthropic({ baseURL: process.env.LLMUX_URL, apiKey: 'sk-wrong', maxRetries: 0 });
    await assert.rejects(
      bad.messages.create({ model: 'claude', max_tokens: 16, messages: [{ role: 'user', content: 'x' }] }),
      (err) => {
        assert.ok(err instanceof Anthropic.AuthenticationError, `expected AuthenticationError, got ${err?.constructor?.name}: ${err}`);
        assert.equal(err.status, 401);
        return true;
      },
    );
  });
});
