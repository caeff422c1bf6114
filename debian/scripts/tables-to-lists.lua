-- A pandoc filter for the man pages: a table becomes a definition list, one entry per row
-- (the first cell is the term; a middle cell is labelled by its column heading). Wide
-- tables do not fit a terminal's 80 columns, and groff warns about every one that does not.
local stringify = pandoc.utils.stringify

local function inlines(blocks)
  return pandoc.utils.blocks_to_inlines(blocks)
end

function Table(tbl)
  local head = (#tbl.head.rows > 0) and tbl.head.rows[1].cells or {}
  local items = {}
  for _, body in ipairs(tbl.bodies) do
    for _, row in ipairs(body.body) do
      local cells = row.cells
      local definition = {}
      for i = 2, #cells do
        local content = cells[i].contents
        if i < #cells and head[i] then
          local label = pandoc.Strong(pandoc.Str(stringify(head[i].contents) .. ":"))
          local line = pandoc.List({label, pandoc.Space()})
          line:extend(inlines(content))
          table.insert(definition, pandoc.Para(line))
        else
          for _, block in ipairs(content) do table.insert(definition, block) end
        end
      end
      table.insert(items, {inlines(cells[1].contents), {definition}})
    end
  end
  return pandoc.DefinitionList(items)
end
