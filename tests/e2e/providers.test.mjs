// End-to-end: the official OpenAI Node SDK against llmux models backed by native providers, each served
// by its Python mock (tests/integration/mocks, started by run.sh): Anthropic (claude), Gemini (gemini)
// and Bedrock Converse (bedrock-claude). The mocks answer deterministically (see mocks/README.md):
//   * text = the last user text verbatim, one word per stream delta;
//   * a tool call to the first declared tool with {"city":"Paris"} when the last user text contains
//     "call tool" (a second call with {"city":"Rome"} when it also contains "parallel");
//   * "Tool result: <results joined by ' | '>" after tool results;
//   * JSON mode: {"echo": <last user text>, "mock": <provider>};
//   * usage: input = 3 + words of the conversation's texts, output = words of the reply (+10 per tool call).
// Env: LLMUX_URL, LLMUX_MASTER_KEY.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import OpenAI from 'openai';

const baseURL = `${process.env.LLMUX_URL}/v1`;
const apiKey = process.env.LLMUX_MASTER_KEY;
assert.ok(process.env.LLMUX_URL && apiKey, 'run through tests/e2e/run.sh (LLMUX_URL, LLMUX_MASTER_KEY)');

const client = new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 30_000 });

// toolText: how the mock renders one tool result it received. Gemini's functionResponse.response must be
// an object, so llmux sends a plain-text tool result as {"content": "<text>"} (a JSON-object result as
// itself) and the Gemini mock echoes that object (Python json.dumps, sorted keys).
const PROVIDERS = [
  { model: 'claude', mock: 'anthropic', toolText: (t) => t },
  { model: 'gemini', mock: 'gemini', toolText: (t) => `{"content": ${JSON.stringify(t)}}` },
  { model: 'bedrock-claude', mock: 'bedrock', toolText: (t) => t },
];

const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', description: 'City name' } },
      required: ['city'],
    },
  },
};

const ECHO_SCHEMA = {
  type: 'json_schema',
  json_schema: {
    name: 'echo_reply',
    strict: true,
    schema: {
      type: 'object',
      properties: { echo: { type: 'string' }, mock: { type: 'string' } },
      required: ['echo', 'mock'],
      additionalProperties: false,
    },
  },
};

const words = (s) => s.split(/\s+/).filter(Boolean).length;

// Drains a chat.completion.chunk stream: text, tool calls assembled from their deltas, finish reason,
// usage, chunk count.
async function collect(stream) {
  let content = '';
  let usage = null;
  let chunks = 0;
  let finish = null;
  let role = null;
  const calls = [];
  for await (const chunk of stream) {
    chunks++;
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.ok(chunk.id, 'every chunk has an id');
    if (chunk.usage) usage = chunk.usage;
    for (const c of chunk.choices) {
      assert.equal(c.index, 0);
      if (c.delta?.role) role = c.delta.role;
      if (c.delta?.content) content += c.delta.content;
      for (const tc of c.delta?.tool_calls ?? []) {
        const slot = (calls[tc.index] ??= { id: null, type: null, name: '', arguments: '' });
        if (tc.id) slot.id = tc.id;
        if (tc.type) slot.type = tc.type;
        if (tc.function?.name) slot.name += tc.function.name;
        if (tc.function?.arguments) slot.arguments += tc.function.arguments;
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
  }
  return { content, usage, chunks, finish, role, calls };
}

for (const { model, mock, toolText } of PROVIDERS) {
  describe(`openai SDK -> ${model} (${mock} mock)`, () => {
    test('plain completion', async () => {
      const text = `Hello ${mock} from the OpenAI SDK ✓`;
      const { data: res, response } = await client.chat.completions
        .create({ model, max_tokens: 256, messages: [{ role: 'user', content: text }] })
        .withResponse();
      assert.equal(res.object, 'chat.completion');
      assert.ok(res.id);
      assert.equal(typeof res.model, 'string');
      assert.equal(res.choices.length, 1);
      assert.equal(res.choices[0].message.role, 'assistant');
      assert.equal(res.choices[0].message.content, text);
      assert.equal(res.choices[0].finish_reason, 'stop');
      assert.equal(res.usage.prompt_tokens, 3 + words(text));
      assert.equal(res.usage.completion_tokens, words(text));
      assert.equal(res.usage.total_tokens, res.usage.prompt_tokens + res.usage.completion_tokens);
      assert.equal(response.headers.get('x-llmux-model-group'), model);
      assert.ok(response.headers.get('x-llmux-request-id'));
    });

    test('system prompt and multi-turn history', async () => {
      const res = await client.chat.completions.create({
        model,
        max_tokens: 256,
        messages: [
          { role: 'system', content: 'You are terse.' },
          { role: 'user', content: 'first question' },
          { role: 'assistant', content: 'first answer' },
          { role: 'user', content: 'second question here' },
        ],
      });
      assert.equal(res.choices[0].message.content, 'second question here');
      assert.equal(res.choices[0].finish_reason, 'stop');
      // 3 + every text of the conversation: 3 (system) + 2 + 2 + 3.
      assert.equal(res.usage.prompt_tokens, 3 + 3 + 2 + 2 + 3);
    });

    test('max_tokens cuts the reply -> finish_reason length', async () => {
      const res = await client.chat.completions.create({
        model,
        max_tokens: 3,
        messages: [{ role: 'user', content: 'one two three four five six' }],
      });
      assert.equal(res.choices[0].message.content.trim(), 'one two three');
      assert.equal(res.choices[0].finish_reason, 'length');
    });

    test('streamed with stream_options.include_usage', async () => {
      const text = `streaming through ${mock} works word by word`;
      const r = await collect(await client.chat.completions.create({
        model,
        max_tokens: 256,
        stream: true,
        stream_options: { include_usage: true },
        messages: [{ role: 'user', content: text }],
      }));
      assert.equal(r.role, 'assistant');
      assert.equal(r.content, text);
      assert.equal(r.finish, 'stop');
      assert.ok(r.chunks >= words(text), `one delta per word at least (${r.chunks} chunks)`);
      assert.ok(r.usage, 'the usage chunk arrives when asked for');
      assert.equal(r.usage.prompt_tokens, 3 + words(text));
      assert.equal(r.usage.completion_tokens, words(text));
      assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
    });

    test('streamed without include_usage has no usage chunk', async () => {
      const r = await collect(await client.chat.completions.create({
        model,
        max_tokens: 256,
        stream: true,
        messages: [{ role: 'user', content: 'no usage please' }],
      }));
      assert.equal(r.content, 'no usage please');
      assert.equal(r.finish, 'stop');
      assert.equal(r.usage, null);
    });

    test('tool call, then the tool result sent back', async () => {
      const messages = [{ role: 'user', content: 'What is the weather? call tool please' }];
      const first = await client.chat.completions.create({
        model,
        max_tokens: 256,
        tools: [WEATHER_TOOL],
        messages,
      });
      const msg = first.choices[0].message;
      assert.equal(first.choices[0].finish_reason, 'tool_calls');
      assert.equal(msg.role, 'assistant');
      assert.equal(msg.tool_calls.length, 1);
      const call = msg.tool_calls[0];
      assert.equal(call.type, 'function');
      assert.ok(call.id, 'the tool call has an id');
      assert.equal(call.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
      assert.ok(first.usage.completion_tokens >= 10, 'the mock counts 10 output tokens per tool call');

      messages.push(msg, { role: 'tool', tool_call_id: call.id, content: 'sunny, 21 C' });
      const second = await client.chat.completions.create({
        model,
        max_tokens: 256,
        tools: [WEATHER_TOOL],
        messages,
      });
      assert.equal(second.choices[0].finish_reason, 'stop');
      assert.equal(second.choices[0].message.content, `Tool result: ${toolText('sunny, 21 C')}`);
      assert.ok(!second.choices[0].message.tool_calls?.length);
    });

    test('streamed parallel tool calls, then both results sent back', async () => {
      const messages = [{ role: 'user', content: 'narrate, then call tool in parallel' }];
      const r = await collect(await client.chat.completions.create({
        model,
        max_tokens: 256,
        stream: true,
        stream_options: { include_usage: true },
        tools: [WEATHER_TOOL],
        messages,
      }));
      assert.equal(r.finish, 'tool_calls');
      assert.equal(r.content, 'Let me check.');
      assert.equal(r.calls.length, 2);
      const ids = new Set();
      for (const [i, city] of [[0, 'Paris'], [1, 'Rome']]) {
        const c = r.calls[i];
        assert.ok(c.id, `call ${i} has an id`);
        ids.add(c.id);
        assert.equal(c.type, 'function');
        assert.equal(c.name, 'get_weather');
        assert.deepEqual(JSON.parse(c.arguments), { city });
      }
      assert.equal(ids.size, 2, 'distinct tool call ids');
      assert.ok(r.usage && r.usage.completion_tokens >= 20);

      messages.push({
        role: 'assistant',
        content: r.content,
        tool_calls: r.calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })),
      });
      messages.push({ role: 'tool', tool_call_id: r.calls[0].id, content: 'Paris: sunny' });
      messages.push({ role: 'tool', tool_call_id: r.calls[1].id, content: 'Rome: rain' });
      const back = await collect(await client.chat.completions.create({
        model,
        max_tokens: 256,
        stream: true,
        tools: [WEATHER_TOOL],
        messages,
      }));
      assert.equal(back.finish, 'stop');
      assert.equal(back.content, `Tool result: ${toolText('Paris: sunny')} | ${toolText('Rome: rain')}`);
      assert.equal(back.calls.length, 0);
    });

    test('chat.completions.stream() helper with tools: finalChatCompletion()', async () => {
      const runner = client.chat.completions.stream({
        model,
        max_tokens: 256,
        tools: [WEATHER_TOOL],
        messages: [{ role: 'user', content: 'please call tool for me' }],
      });
      const argDeltas = [];
      runner.on('tool_calls.function.arguments.delta', (e) => argDeltas.push(e.arguments_delta));
      const done = await runner.finalChatCompletion();
      assert.equal(done.choices[0].finish_reason, 'tool_calls');
      const calls = done.choices[0].message.tool_calls;
      assert.equal(calls.length, 1);
      assert.equal(calls[0].function.name, 'get_weather');
      assert.deepEqual(JSON.parse(calls[0].function.arguments), { city: 'Paris' });
      assert.equal(argDeltas.join(''), calls[0].function.arguments);
    });

    test('tool_choice naming the second of two tools forces that call', async () => {
      const timeTool = {
        type: 'function',
        function: { name: 'get_time', parameters: { type: 'object', properties: { tz: { type: 'string' } } } },
      };
      const res = await client.chat.completions.create({
        model,
        max_tokens: 256,
        tools: [WEATHER_TOOL, timeTool],
        tool_choice: { type: 'function', function: { name: 'get_time' } },
        messages: [{ role: 'user', content: 'what time is it' }],
      });
      assert.equal(res.choices[0].finish_reason, 'tool_calls');
      assert.deepEqual(res.choices[0].message.tool_calls.map((c) => c.function.name), ['get_time']);
      const req = await client.chat.completions.create({
        model,
        max_tokens: 256,
        tools: [WEATHER_TOOL, timeTool],
        tool_choice: 'required',
        messages: [{ role: 'user', content: 'anything' }],
      });
      assert.equal(req.choices[0].finish_reason, 'tool_calls');
      assert.deepEqual(req.choices[0].message.tool_calls.map((c) => c.function.name), ['get_weather']);
    });

    test('tool_choice "none" answers with text', async () => {
      const res = await client.chat.completions.create({
        model,
        max_tokens: 256,
        tools: [WEATHER_TOOL],
        tool_choice: 'none',
        messages: [{ role: 'user', content: 'do not call tool now' }],
      });
      assert.equal(res.choices[0].finish_reason, 'stop');
      assert.equal(res.choices[0].message.content, 'do not call tool now');
    });

    test('response_format json_schema (chat.completions.parse)', async () => {
      const text = `give me JSON from ${mock}`;
      const res = await client.chat.completions.parse({
        model,
        max_tokens: 256,
        response_format: ECHO_SCHEMA,
        messages: [{ role: 'user', content: text }],
      });
      assert.equal(res.choices[0].finish_reason, 'stop');
      const msg = res.choices[0].message;
      assert.deepEqual(JSON.parse(msg.content), { echo: text, mock });
      assert.deepEqual(msg.parsed, { echo: text, mock });
    });

    test('response_format json_schema, streamed', async () => {
      const text = 'streamed JSON please';
      const r = await collect(await client.chat.completions.create({
        model,
        max_tokens: 256,
        stream: true,
        response_format: ECHO_SCHEMA,
        messages: [{ role: 'user', content: text }],
      }));
      assert.equal(r.finish, 'stop');
      assert.deepEqual(JSON.parse(r.content), { echo: text, mock });
    });
  });
}
