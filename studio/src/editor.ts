/**
 * The story editor: title, global caption, size and frame rate, shots (caption and seconds: add,
 * remove, move up or down, duplicate), seed, steps, guidance and router maps. Every edit changes
 * the draft in place and calls `changed`; the list is redrawn only when shots are added, removed or
 * moved, so typing never loses focus. `show` marks what the server's check said: the field at
 * fault, its message, and the caption words the model does not know, underlined.
 */
import { ApiError } from './api.js';
import { fill, h } from './dom.js';
import type { CheckResult, Draft, UnknownWords } from './types.js';

export interface EditorView {
  /** Redraws every input from the draft. */
  render(): void;
  /** The latest check: a result, a refusal, or null while one is on its way. */
  show(result: CheckResult | ApiError | null): void;
  /** A message under the submit button (a submission refused, or accepted). */
  say(text: string, bad?: boolean): void;
}

/** Words of a caption, the unknown ones underlined. */
function words(text: string, unknown: readonly string[]): (Node | string)[] {
  if (unknown.length === 0) return [text];
  return text.split(/(\s+)/).map((piece) => {
    const bare = piece.replace(/^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$/gu, '');
    return unknown.includes(piece.trim()) || (bare && unknown.includes(bare))
      ? h('u', { class: 'unknown', title: 'the model does not know this word' }, piece)
      : piece;
  });
}

export function editor(
  root: HTMLElement,
  draft: Draft,
  changed: (structural: boolean) => void,
  submit: () => void,
): EditorView {
  let last: CheckResult | ApiError | null = null;
  const message = h('p', { class: 'check', 'data-testid': 'check' });
  const said = h('p', { class: 'said', 'data-testid': 'said' });

  const edit = (structural: boolean) => () => {
    if (structural) view.render();
    changed(structural);
  };

  function num(
    field: string,
    label: string,
    get: () => number,
    set: (v: number) => void,
    attrs: Record<string, unknown> = {},
  ): HTMLElement {
    return h(
      'label',
      {},
      label,
      h('input', {
        type: 'number',
        'data-field': field,
        value: String(get()),
        ...attrs,
        oninput: (e: Event) => {
          set(Number((e.target as HTMLInputElement).value));
          changed(false);
        },
      }),
    );
  }

  function text(field: string, label: string, get: () => string, set: (v: string) => void, wide = true) {
    return h(
      'label',
      { class: wide ? 'wide' : '' },
      label,
      h('input', {
        type: 'text',
        'data-field': field,
        value: get(),
        oninput: (e: Event) => {
          set((e.target as HTMLInputElement).value);
          changed(false);
        },
      }),
      h('span', { class: 'words', 'data-words': field }),
    );
  }

  function shotRow(i: number): HTMLElement {
    const shots = draft.story.shots;
    const s = shots[i];
    const move = (to: number) => () => {
      shots.splice(to, 0, ...shots.splice(i, 1));
      edit(true)();
    };
    return h(
      'li',
      { class: 'shot', 'data-shot': i },
      h('span', { class: 'n' }, i + 1),
      text(
        `story.shots[${i}].caption`,
        'caption',
        () => s.caption,
        (v) => (s.caption = v),
      ),
      num(
        `story.shots[${i}].seconds`,
        'seconds',
        () => s.seconds,
        (v) => (s.seconds = v),
        { step: '0.25', min: '0', class: 'seconds' },
      ),
      h(
        'span',
        { class: 'tools' },
        h('button', { type: 'button', title: 'move up', disabled: i === 0, onclick: move(i - 1) }, '↑'),
        h(
          'button',
          { type: 'button', title: 'move down', disabled: i === shots.length - 1, onclick: move(i + 1) },
          '↓',
        ),
        h(
          'button',
          {
            type: 'button',
            title: 'duplicate',
            onclick: () => {
              shots.splice(i + 1, 0, { ...s });
              edit(true)();
            },
          },
          'dup',
        ),
        h(
          'button',
          {
            type: 'button',
            title: 'remove',
            disabled: shots.length === 1,
            onclick: () => {
              shots.splice(i, 1);
              edit(true)();
            },
          },
          '✕',
        ),
      ),
    );
  }

  const view: EditorView = {
    render() {
      const st = draft.story;
      fill(
        root,
        h('h2', {}, 'Story'),
        h(
          'div',
          { class: 'grid' },
          text(
            'story.title',
            'title',
            () => st.title,
            (v) => (st.title = v),
          ),
          text(
            'story.global',
            'global caption',
            () => st.global ?? '',
            (v) => (st.global = v || undefined),
          ),
          num(
            'story.width',
            'width',
            () => st.width,
            (v) => (st.width = v),
            { step: '16', min: '16' },
          ),
          num(
            'story.height',
            'height',
            () => st.height,
            (v) => (st.height = v),
            { step: '16', min: '16' },
          ),
          num(
            'story.fps',
            'fps',
            () => st.fps,
            (v) => (st.fps = v),
            { min: '1' },
          ),
        ),
        h('h3', {}, 'Shots'),
        h(
          'ol',
          { class: 'shots', 'data-field': 'story.shots' },
          st.shots.map((_, i) => shotRow(i)),
        ),
        h(
          'button',
          {
            type: 'button',
            id: 'add-shot',
            onclick: () => {
              st.shots.push({ caption: '', seconds: 1 });
              edit(true)();
            },
          },
          '+ shot',
        ),
        h('div', { id: 'timeline' }),
        h('h3', {}, 'Sampling'),
        h(
          'div',
          { class: 'grid' },
          num(
            'seed',
            'seed',
            () => st.seed,
            (v) => (st.seed = v),
            { min: '0' },
          ),
          num(
            'steps',
            'steps',
            () => draft.steps,
            (v) => (draft.steps = v),
            { min: '1' },
          ),
          num(
            'guidance',
            'guidance',
            () => draft.guidance,
            (v) => (draft.guidance = v),
            {
              min: '0',
              step: '0.5',
            },
          ),
          h(
            'label',
            { class: 'tick' },
            h('input', {
              type: 'checkbox',
              'data-field': 'maps',
              checked: draft.maps,
              onchange: (e: Event) => {
                draft.maps = (e.target as HTMLInputElement).checked;
                changed(false);
              },
            }),
            ' router maps',
          ),
        ),
        message,
        h('button', { type: 'button', id: 'submit', class: 'primary', onclick: submit }, 'Generate'),
        said,
      );
      view.show(last);
    },

    show(result) {
      last = result;
      for (const el of root.querySelectorAll('.invalid')) el.classList.remove('invalid');
      const unknown = result instanceof ApiError || !result ? [] : result.unknownWords;
      const of = (c: UnknownWords['caption']) => unknown.find((u) => u.caption === c)?.words ?? [];
      for (const el of root.querySelectorAll<HTMLElement>('[data-words]')) {
        const field = el.dataset.words!;
        const m = /^story\.shots\[(\d+)\]\.caption$/.exec(field);
        const caption = field === 'story.global' ? 'global' : m ? Number(m[1]) : undefined;
        const input = el.previousElementSibling as HTMLInputElement;
        const bad = caption === undefined ? [] : of(caption);
        fill(el, bad.length ? words(input.value, bad) : []);
      }
      if (!result) {
        message.textContent = 'checking…';
        message.className = 'check';
      } else if (result instanceof ApiError) {
        message.textContent = result.message;
        message.className = 'check bad';
        const field = result.field === 'story.seed' ? 'seed' : result.field;
        if (field)
          for (const el of root.querySelectorAll(`[data-field="${CSS.escape(field)}"]`))
            el.classList.add('invalid');
      } else {
        const n = unknown.reduce((a, u) => a + u.words.length, 0);
        message.textContent = `✓ ${result.frames} frames, ${result.latent.frames} latent frames${n ? `; ${n} word(s) the model does not know (underlined): generated anyway` : ''}`;
        message.className = n ? 'check warn' : 'check ok';
      }
    },

    say(t, bad = false) {
      said.textContent = t;
      said.className = bad ? 'said bad' : 'said';
    },
  };
  return view;
}
