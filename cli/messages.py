"""Error messages in the language of `--lang`: the engine words its refusals in English (one
wording, the same for the library, the service and the CLI); for `--lang zh` the CLI gives the
Chinese of the messages people meet most (profiles, options, policy loading), phrase by phrase,
keeping every name, file, line and value as it is. A phrase without a translation stays English.
"""

from __future__ import annotations

import functools
import re

# (pattern, Chinese) in the order they are applied; groups keep names and values. Compiled
# when first needed (`_compiled`): most runs translate nothing, and the command line's start
# should not pay for it.
_ZH: tuple[tuple[str, str], ...] = (
    # click's usage errors (8.1 and later wordings)
    (r"Missing argument '([^']+)'\.", r"缺少参数 \1。"),
    (r"Missing option '([^']+)'\.", r"缺少选项 \1。"),
    (r"Missing command\.", "缺少命令。"),
    (r"No such option '([^']+)'\.", r"没有选项 \1。"),
    (r"No such option: (\S+)", r"没有选项 \1。"),
    (r"No such command '([^']+)'\.", r"没有命令 '\1'。"),
    (r" ?\(Did you mean one of: ([^?]+)\?\)", r"是否应为以下之一：\1？"),
    (r" ?\(Possible options: ([^)]+)\)", r"（可能的选项：\1）"),
    (r" ?Did you mean ([^?]+)\?", r"是否应为 \1？"),
    (r"Option '([^']+)' requires an argument\.", r"选项 \1 需要一个值。"),
    (r"Option '([^']+)' requires (\d+) arguments\.", r"选项 \1 需要 \2 个值。"),
    (r"Option '([^']+)' does not take a value\.", r"选项 \1 不接受值。"),
    (r"Got unexpected extra arguments? \((.*)\)", r"多余的参数（\1）"),
    (r"Invalid value for (.+?): ", r"\1 的值无效："),
    (r"Invalid value: ", "值无效："),
    (r"('[^']*') is not one of (.+)\.$", r"\1 不是可选值之一（\2）。"),
    (r"('[^']*') is not ('[^']*')\.$", r"\1 不是 \2。"),
    (r"('[^']*') is not a valid integer( range)?\.", r"\1 不是有效的整数。"),
    (r"('[^']*') is not a valid float( range)?\.", r"\1 不是有效的数字。"),
    (r"(\S+) is not in the range (\S+)\.", r"\1 不在范围 \2 之内。"),
    (r"(?:File|Directory|Path) ('[^']*') does not exist\.", r"路径 \1 不存在。"),
    (r"(?:File|Directory|Path) ('[^']*') is a file\.", r"\1 是文件，应为目录。"),
    (r"(?:File|Directory|Path) ('[^']*') is a directory\.", r"\1 是目录，应为文件。"),
    (r"expected a date written YYYY-MM-DD \(e\.g\. (\S+)\), got (.+)",
     r"应为 YYYY-MM-DD 格式的日期（如 \1），实为 \2"),
    (r"is not a date the engine reads: day and month order is ambiguous; ",
     "不是引擎可读的日期：日、月顺序有歧义；"),
    (r"is not a date the engine reads: write it as (\S+) \(YYYY-MM-DD\)",
     r"不是引擎可读的日期：请写作 \1（YYYY-MM-DD）"),
    (r"there is no month (\d+)", r"没有 \1 月"),
    (r"(\d+) has (\d+) days", r"\1 年该月只有 \2 天"),
    # the engine's refusals
    (r"(\d+) invalid field\(s\)", r"\1 个字段无效"),
    (r"unknown field \(not part of the profile schema\)", "未知字段（画像中没有此字段）"),
    (r"; did you mean ([^?]+)\?", r"；是否应为 \1？"),
    (r"Input should be greater than or equal to (\S+)", r"应大于或等于 \1"),
    (r"Input should be less than or equal to (\S+)", r"应小于或等于 \1"),
    (r"Input should be a valid boolean", "应为 true 或 false"),
    (r"Input should be a valid list", "应为列表"),
    (r"Input should be a valid dictionary or instance of \w+", "应为映射（字段: 值）"),
    (r"Input should be ('[^']*'(?:, '[^']*')*) or ('[^']*')", r"应为以下之一：\1 或 \2"),
    (r"Input should be a valid (date|integer|number|string)", r"应为有效的 \1"),
    (r"Field required", "缺少必填字段"),
    (r"cannot read profile (.+): No such file or directory", r"无法读取画像 \1：文件不存在"),
    (r"cannot read profile (.+?): (.+)", r"无法读取画像 \1：\2"),
    (r"(.+) is a directory; give the path of a profile file", r"\1 是目录；请给出画像文件的路径"),
    (r"the profile is empty; write its fields as a mapping, e\.g\. (.+) on lines of their own",
     r"画像为空；请逐行写出字段，例如 \1"),
    (r"a profile must be a mapping of fields \(name: value\), got (.+)",
     r"画像必须是字段映射（名称: 值），实为 \1"),
    (r"(.+) is not a valid unified social credit code: ", r"\1 不是有效的统一社会信用代码："),
    (r"check character is (\S+) but GB 32100 gives (\S+)", r"校验码为 \1，按 GB 32100 应为 \2"),
    (r"embedded organisation code (\S+) fails its GB 11714 check(: )?",
     r"其中的组织机构代码 \1 未通过 GB 11714 校验：\2"),
    (r"校验：: ", "校验："),
    (r"position 17 should be (\S+) and then the check character \(position 18\) (\S+)",
     r"第17位应为 \1，随后第18位校验码应为 \2"),
    (r"position 17 should be (\S+)", r"第17位应为 \1"),
    (r" ?\(the code would be (\S+)\)", r"（即 \1）"),
    (r", unless another character is mistyped", "，除非其他字符有误"),
    (r"must have 18 characters, has (\d+)", r"应为18位，实为 \1 位"),
    (r"unknown zone (\S+); known zones: (.+)", r"未知园区 \1；已知园区：\2"),
    (r"profile (.*)does not fit this policy set", r"画像 \1与此政策集不符"),
    (r"no policy with id (\S+) in this policy set", r"此政策集中没有 id 为 \1 的政策"),
    (r"policy set (.+) has (\d+) problem\(s\); nothing was loaded", r"政策集 \1 有 \2 个问题，未加载任何政策"),
    (r"policy directory (.+) does not exist", r"政策目录 \1 不存在"),
    (r"not declared in the fact catalogue of this policy set", "未在此政策集的事实目录中声明"),
    (r"; (\S+) is computed from (.+): state those instead", r"；\1 由 \2 计算得出：请填写这些字段"),
    (r"is not declared in this policy set", "未在此政策集中声明"),
    (r"expected an amount in yuan \(e\.g\. '1200万元'\), got (.+)", r"应为以元计的金额（如 '1200万元'），实为 \1"),
    (r"cannot read (.+) as a number with a unit \(e\.g\. (.+)\)", r"无法将 \1 读作带单位的数值（如 \2）"),
    (r"… \(([\d,]+) characters\)", r"…（共 \1 个字符）"),
    (r"is not a real date", "不是真实日期"),
    (r"write it as YYYY-MM-DD", "请写作 YYYY-MM-DD"),
)


@functools.cache
def _compiled() -> tuple[tuple[re.Pattern[str], str], ...]:
    return tuple((re.compile(pattern), zh) for pattern, zh in _ZH)


def translated(message: str, lang: str) -> str:
    """`message` in `lang`: as it is for English, phrase by phrase for Chinese."""
    if lang != "zh":
        return message
    for pattern, zh in _compiled():
        message = pattern.sub(zh, message)
    return message
