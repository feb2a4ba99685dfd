import { describe, expect, it } from 'vitest';
import { groupsInOrder, parseScene, sceneKey, SceneError, validateScene } from './scene';

const TWO = '{"background":"white","groups":[{"count":2,"colour":"red","shape":"circle","side":"left"},{"count":1,"colour":"blue","shape":"square","side":"right"}]}';

describe('scene JSON', () => {
  it("reads the issue's example", () => {
    expect(parseScene(TWO)).toEqual({
      background: 'white',
      groups: [
        { count: 2, colour: 'red', shape: 'circle', side: 'left' },
        { count: 1, colour: 'blue', shape: 'square', side: 'right' },
      ],
    });
    expect(parseScene(' {"background":"black","groups":[{"side":"center","shape":"triangle","colour":"yellow","count":3}]}\n')).toEqual({
      background: 'black',
      groups: [{ count: 3, colour: 'yellow', shape: 'triangle', side: 'center' }],
    });
  });

  const group = (fields: Record<string, unknown>) => ({ count: 1, colour: 'red', shape: 'circle', side: 'center', ...fields });
  const scene = (...groups: unknown[]) => ({ background: 'white', groups });
  const cases: [string, unknown, RegExp][] = [
    ['not an object', [1, 2], /^the scene must be a JSON object with fields background, groups, got an array$/],
    ['null', null, /^the scene must be a JSON object .*, got null$/],
    ['no background', { groups: [group({})] }, /^field "background" is missing$/],
    ['a grey background', { background: 'grey', groups: [group({})] }, /^field "background" must be one of "white", "black", got "grey"$/],
    ['an unknown field', { ...scene(group({})), size: 64 }, /^unknown field "size"; a scene has background, groups$/],
    ['no groups', scene(), /^field "groups" must be an array of one or two groups, got 0 groups$/],
    ['three groups', scene(group({}), group({}), group({})), /got 3 groups$/],
    ['groups that is an object', { background: 'white', groups: group({}) }, /^field "groups" must be an array .*, got \{"count"/],
    ['a group that is a string', scene('red circle'), /^groups\[0\] must be a JSON object with fields count, colour, shape, side, got "red circle"$/],
    ['a count of 4', scene(group({ count: 4 })), /^field "groups\[0\]\.count" must be one of 1, 2, 3, got 4$/],
    ['a count as a string', scene(group({ count: '2' })), /^field "groups\[0\]\.count" must be one of 1, 2, 3, got "2"$/],
    ['a count of 1.5', scene(group({ count: 1.5 })), /groups\[0\]\.count" must be one of 1, 2, 3, got 1\.5$/],
    ['a purple group', scene(group({ colour: 'purple' })), /^field "groups\[0\]\.colour" must be one of "red", "green", "blue", "yellow", got "purple"$/],
    ['a capitalised colour', scene(group({ colour: 'Red' })), /groups\[0\]\.colour" must be one of .*, got "Red"$/],
    ['a star', scene(group({ shape: 'star' })), /^field "groups\[0\]\.shape" must be one of "circle", "square", "triangle", got "star"$/],
    ['the American spelling', scene({ count: 1, color: 'red', shape: 'circle', side: 'center' }), /^unknown field "groups\[0\]\.color" \(the world spells it "colour"\)/],
    ['a missing side', scene({ count: 1, colour: 'red', shape: 'circle' }), /^field "groups\[0\]\.side" is missing$/],
    ['one group on the left', scene(group({ side: 'left' })), /^field "groups\[0\]\.side" must be "center" in a scene of one group, got "left"$/],
    ['two groups, one in the centre', scene(group({ side: 'left' }), group({ shape: 'square', side: 'center' })), /^field "groups\[1\]\.side" must be "left" or "right" in a scene of two groups, got "center"$/],
    ['two groups on the left', scene(group({ side: 'left' }), group({ shape: 'square', side: 'left' })), /^fields "groups\[0\]\.side" and "groups\[1\]\.side" are both "left"/],
    ['two groups alike', scene(group({ side: 'left', count: 1 }), group({ side: 'right', count: 3 })), /^groups\[0\] and groups\[1\] are both red circles; the two groups must differ in shape or colour$/],
  ];
  it.each(cases)('refuses %s, naming the field', (_name, value, message) => {
    expect(() => validateScene(value)).toThrow(SceneError);
    expect(() => validateScene(value)).toThrow(message);
  });

  it('names the place of a JSON syntax error', () => {
    expect(() => parseScene('{"background":"white",')).toThrow(/^the scene is not valid JSON \(line 1, column 23: expected .*\)$/);
    expect(() => parseScene("{'background':'white'}")).toThrow(/^the scene is not valid JSON \(line 1, column 2/);
  });

  it('orders groups left to right and keys a scene whatever the order of its groups', () => {
    const a = parseScene(TWO);
    const b = { ...a, groups: [a.groups[1], a.groups[0]] };
    expect(groupsInOrder(b).map((g) => g.side)).toEqual(['left', 'right']);
    expect(sceneKey(b)).toBe('white|2 red circle left|1 blue square right');
    expect(sceneKey(a)).toBe(sceneKey(b));
  });
});
